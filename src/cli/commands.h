/* The subcommands of the localm CLI, one file each. Each returns the process
 * exit status and reports errors as "error: ..." on stderr. */
#ifndef LM_CLI_COMMANDS_H
#define LM_CLI_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_embed(int argc, char **argv);

#endif
