// PII redaction (web/src/redact.js): precision and recall per entity type over
// the hand-labelled corpus tests/data/pii-corpus.jsonl, then round trips and
// checksum edge cases.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './helpers.mjs';
import { PII_TYPES, ibanValid, isCardNumber, isIPv4, isIPv6, luhnValid, redact, redactAll, restore } from '../../web/src/redact.js';

const corpus = readFileSync(resolve(repoRoot, 'tests/data/pii-corpus.jsonl'), 'utf8')
  .split('\n').filter(Boolean).map((line) => JSON.parse(line));

// The bar for the checksummed and well-formed types; the rule-based
// ones (names, addresses, birth dates) get a lower floor the model hook raises.
const FLOORS = {
  CARD: { precision: 0.95, recall: 0.99 },
  IBAN: { precision: 0.95, recall: 0.99 },
  EMAIL: { precision: 0.95, recall: 0.99 },
  PHONE: { precision: 0.95, recall: 0.99 },
  IP: { precision: 0.95, recall: 0.95 },
  SSN: { precision: 0.95, recall: 0.95 },
  DOB: { precision: 0.9, recall: 0.9 },
  ADDRESS: { precision: 0.85, recall: 0.85 },
  NAME: { precision: 0.85, recall: 0.8 },
};

// Counts per type: found and labelled entities match on type and exact value,
// as multisets (a value labelled twice must be found twice).
function score() {
  const counts = Object.fromEntries(PII_TYPES.map((t) => [t, { tp: 0, found: 0, labelled: 0 }]));
  const misses = [];
  for (const { text, entities } of corpus) {
    const want = entities.map((e) => `${e.type}\t${e.value}`);
    const got = redact(text).entities.map((e) => `${e.type}\t${e.value}`);
    const left = [...want];
    for (const g of got) {
      const type = g.split('\t')[0];
      counts[type].found++;
      const i = left.indexOf(g);
      if (i >= 0) { counts[type].tp++; left.splice(i, 1); } else misses.push(`false positive ${g}  in: ${text}`);
    }
    for (const w of want) counts[w.split('\t')[0]].labelled++;
    for (const w of left) misses.push(`missed ${w}  in: ${text}`);
  }
  return { counts, misses };
}

const ratio = (num, den) => (den === 0 ? 1 : num / den);

test('precision and recall per entity type over the labelled corpus', (t) => {
  assert.ok(corpus.length >= 200, `corpus has ${corpus.length} sentences, want at least 200`);
  const { counts, misses } = score();
  const rows = ['type     labelled found   TP  precision recall  floor(P/R)'];
  for (const type of PII_TYPES) {
    const c = counts[type];
    const p = ratio(c.tp, c.found);
    const r = ratio(c.tp, c.labelled);
    const f = FLOORS[type];
    rows.push(`${type.padEnd(8)} ${String(c.labelled).padStart(8)} ${String(c.found).padStart(5)} ${String(c.tp).padStart(4)}` +
      `  ${p.toFixed(3).padStart(9)} ${r.toFixed(3).padStart(6)}  ${f.precision}/${f.recall}`);
  }
  rows.push(`${corpus.length} sentences`);
  console.log(rows.join('\n'));
  for (const line of misses) t.diagnostic(line);
  for (const type of PII_TYPES) {
    const c = counts[type];
    assert.ok(c.labelled >= 10, `${type}: only ${c.labelled} labelled examples`);
    assert.ok(ratio(c.tp, c.found) >= FLOORS[type].precision, `${type} precision ${ratio(c.tp, c.found).toFixed(3)}\n${misses.join('\n')}`);
    assert.ok(ratio(c.tp, c.labelled) >= FLOORS[type].recall, `${type} recall ${ratio(c.tp, c.labelled).toFixed(3)}\n${misses.join('\n')}`);
  }
});

test('every corpus sentence survives redact then restore unchanged', () => {
  for (const { text } of corpus) {
    const r = redact(text);
    assert.equal(restore(r.text, r.entities), text);
    for (const e of r.entities) assert.equal(text.slice(e.start, e.end), e.value);
  }
});

test('the same value gets the same placeholder; different values count up', () => {
  const r = redact('Mail ann@example.com, then ANN@example.com, then bob@example.com.');
  assert.equal(r.text, 'Mail [EMAIL_1], then [EMAIL_1], then [EMAIL_2].');
  assert.deepEqual(r.entities.map((e) => e.placeholder), ['[EMAIL_1]', '[EMAIL_1]', '[EMAIL_2]']);
  const card = redact('4111 1111 1111 1111 and 4111-1111-1111-1111');
  assert.equal(card.text, '[CARD_1] and [CARD_1]');
});

test('redactAll numbers a conversation once: a value keeps its placeholder in every text', () => {
  const r = redactAll(['Mail ann@example.com', 'No, [EMAIL_2] is old; use ANN@example.com or bob@example.com']);
  assert.deepEqual(r.texts, ['Mail [EMAIL_1]', 'No, [EMAIL_2] is old; use [EMAIL_1] or [EMAIL_3]']);
  assert.deepEqual(r.entities.map((e) => [e.text, e.placeholder, e.start]), [[0, '[EMAIL_1]', 5], [1, '[EMAIL_1]', 26], [1, '[EMAIL_3]', 45]]);
  assert.equal(restore('to [EMAIL_1] and [EMAIL_3]', r.entities), 'to ann@example.com and bob@example.com');
  assert.throws(() => redactAll('one text'), TypeError);
});

test('entities carry type, placeholder, value and offsets into the original text', () => {
  const text = 'Call +44 20 7946 0958 or mail jo@example.com';
  const { entities } = redact(text);
  assert.deepEqual(entities, [
    { type: 'PHONE', placeholder: '[PHONE_1]', value: '+44 20 7946 0958', start: 5, end: 21 },
    { type: 'EMAIL', placeholder: '[EMAIL_1]', value: 'jo@example.com', start: 30, end: 44 },
  ]);
});

test('restore handles placeholders the reply reorders, repeats or drops', () => {
  const r = redact('From ann@example.com to bob@example.com, card 5555 5555 5555 4444.');
  const reply = 'Card [CARD_1] noted. Wrote to [EMAIL_2] and [EMAIL_1]; [EMAIL_2] again. [NAME_9] stays.';
  assert.equal(restore(reply, r.entities),
    'Card 5555 5555 5555 4444 noted. Wrote to bob@example.com and ann@example.com; bob@example.com again. [NAME_9] stays.');
  assert.equal(restore('[ EMAIL_1 ] spaced', r.entities), 'ann@example.com spaced');
  assert.equal(restore('nothing to do', r.entities), 'nothing to do');
});

test('placeholders already present in the text are not reused', () => {
  const r = redact('The template says [EMAIL_1]; mine is me@example.com.');
  assert.equal(r.text, 'The template says [EMAIL_1]; mine is [EMAIL_2].');
  assert.equal(restore(r.text, r.entities), 'The template says [EMAIL_1]; mine is me@example.com.');
});

test('overlaps: the higher-priority type wins, then the longer span', () => {
  // An e-mail whose local part is a name stays one e-mail.
  const email = redact('Write to maria.garcia@example.com');
  assert.deepEqual(email.entities.map((e) => e.type), ['EMAIL']);
  // A card number is not also reported as a phone number.
  const card = redact('Call about 4111 1111 1111 1111');
  assert.deepEqual(card.entities.map((e) => e.type), ['CARD']);
  // The address keeps the street that contains a listed first name.
  const address = redact('Meet at 45 Martin Luther King Blvd, Atlanta, GA 30303.');
  assert.deepEqual(address.entities.map((e) => [e.type, e.value]), [['ADDRESS', '45 Martin Luther King Blvd, Atlanta, GA 30303']]);
});

test('Luhn and card issuer edge cases', () => {
  assert.ok(luhnValid('0') && luhnValid('18') && luhnValid('4111111111111111'));
  assert.ok(!luhnValid('4111111111111112') && !luhnValid('') && !luhnValid('41x1'));
  assert.ok(isCardNumber('4222222222222')); // 13-digit Visa
  assert.ok(isCardNumber('6205500000000000004')); // 19-digit UnionPay
  assert.ok(!isCardNumber('1234567812345670'), 'Luhn-valid, but no network issues 1xxx');
  assert.ok(!isCardNumber('378282246310005'.padEnd(16, '0')), 'an Amex prefix needs 15 digits');
  assert.ok(!isCardNumber('000000000000'), 'too short');
  assert.ok(!isCardNumber('41111111111111111111'), 'too long');
  // A trailing expiry or CVV does not hide the card; a 20th digit does.
  assert.equal(redact('4111 1111 1111 1111 12 27').text, '[CARD_1] 12 27');
  assert.equal(redact('41111111111111111').text, '41111111111111111');
  // A card right after other digit groups (a phone, an order number, another card).
  assert.equal(redact('jane@example.com +44 20 7946 0958 4111 1111 1111 1111 DE89 3704 0044 0532 0130 00').text,
    '[EMAIL_1] [PHONE_1] [CARD_1] [IBAN_1]');
  assert.equal(redact('order 12345678 4111111111111111').text, 'order 12345678 [CARD_1]');
  assert.equal(redact('4111 1111 1111 1111 5500 0000 0000 0004').text, '[CARD_1] [CARD_2]');
});

test('IBAN mod-97 edge cases', () => {
  assert.ok(ibanValid('GB82WEST12345698765432'));
  assert.ok(ibanValid('gb82 west 1234 5698 7654 32'), 'lower case and spaces');
  assert.ok(!ibanValid('GB82WEST12345698765433'), 'last digit changed');
  assert.ok(!ibanValid('GB28WEST12345698765432'), 'check digits swapped');
  assert.ok(!ibanValid('GB82WEST1234569876543'), 'GB needs 22 characters');
  assert.ok(!ibanValid('ZZ00'), 'too short');
  assert.ok(!ibanValid('GB82-WEST-1234'), 'dashes are not IBAN separators');
  // A word after the IBAN does not sink it.
  assert.equal(redact('IBAN DE89 3704 0044 0532 0130 00 OK').text, 'IBAN [IBAN_1] OK');
});

test('phone edges: counts after a number, switchboard zero, dates and ranges', () => {
  assert.equal(redact('Call 415-555-0132 2 times').text, 'Call [PHONE_1] 2 times');
  assert.equal(redact('Munich: +49 89 2350 0.').text, 'Munich: [PHONE_1].');
  assert.equal(redact('tel:+14155552671').text, 'tel:[PHONE_1]');
  for (const text of ['on 2024-03-12 at 9', 'range 1000-2000 rpm', 'Meeting ID 845 2291 0037', 'sold 12 345 678 units', 'ISBN 978-0-306-40615-7', '07700900123']) {
    assert.deepEqual(redact(text).entities, [], text);
  }
  assert.equal(redact('mobile 07700900123').text, 'mobile [PHONE_1]', 'a bare run needs a cue');
});

test('IP and SSN validation', () => {
  assert.ok(isIPv4('0.0.0.0') && isIPv4('255.255.255.255'));
  assert.ok(!isIPv4('256.1.1.1') && !isIPv4('01.2.3.4') && !isIPv4('1.2.3'));
  assert.ok(isIPv6('::1') && isIPv6('2001:db8::') && isIPv6('::ffff:10.0.0.1') && isIPv6('1:2:3:4:5:6:7:8'));
  assert.ok(!isIPv6('::') && !isIPv6('1::2::3') && !isIPv6('1:2:3:4:5:6:7:8:9') && !isIPv6('12345::') && !isIPv6('::ffff:300.0.0.1'));
  for (const bad of ['000-12-3456', '666-12-3456', '900-12-3456', '123-00-4567', '123-45-0000', '123-45 6789']) {
    assert.deepEqual(redact(bad).entities, [], bad);
  }
  assert.equal(redact('899-99-9999').text, '[SSN_1]');
});

test('the name detector hook adds names the rules miss, and bad spans are ignored', () => {
  const text = 'Ask Xochitl about it.';
  assert.deepEqual(redact(text).entities, []);
  const r = redact(text, { nameDetector: () => [{ start: 4, end: 11 }, { start: -1, end: 3 }, { start: 5, end: 99 }, null] });
  assert.equal(r.text, 'Ask [NAME_1] about it.');
  assert.deepEqual(redact(text, { types: ['EMAIL'], nameDetector: () => [{ start: 4, end: 11 }] }).entities, []);
});

test('options and arguments are checked', () => {
  assert.throws(() => redact(42), TypeError);
  assert.throws(() => redact('x', { typo: 1 }), /unknown redact option "typo"/);
  assert.throws(() => redact('x', { types: ['PASSPORT'] }), /options.types/);
  assert.throws(() => redact('x', { nameDetector: 'no' }), /nameDetector/);
  assert.throws(() => redact('x', { nameDetector: () => 'no' }), /nameDetector must return an array/);
  assert.throws(() => restore('x', null), TypeError);
  assert.equal(restore('[EMAIL_1]', [null, { placeholder: 1 }]), '[EMAIL_1]');
  assert.deepEqual(redact('only card 4111 1111 1111 1111, a@b.co', { types: ['CARD'] }).entities.map((e) => e.type), ['CARD']);
});

test('deterministic and fast on long hostile input', () => {
  const text = corpus.map((row) => row.text).join(' ');
  assert.deepEqual(redact(text), redact(text));
  const hostile = ['1 '.repeat(20000), '1-'.repeat(20000), ':'.repeat(40000), 'A'.repeat(40000), 'Aa '.repeat(15000), 'a@'.repeat(20000), '1.'.repeat(20000)];
  for (const h of hostile) {
    const started = performance.now();
    restore(redact(h).text, redact(h).entities);
    assert.ok(performance.now() - started < 2000, `slow on ${JSON.stringify(h.slice(0, 8))}...`);
  }
});
