// Emscripten's getenv() sees its own ENV object (defined only when a test
// calls getenv), not the process's: hand the tests the variables they read.
Module['preRun'] = (Module['preRun'] || []).concat(function () {
  if (typeof ENV === 'undefined') return;
  for (const name of ['LM_SHARED_DIR', 'LM_BUILD_DIR']) {
    if (process.env[name] !== undefined) ENV[name] = process.env[name];
  }
});
