// On-device PII redaction: redact() swaps personal data for placeholders like
// [EMAIL_1] before a prompt leaves the device; restore() puts the values back
// into the reply. Rules only (plus an optional name detector hook), pure and
// deterministic: the same text always gives the same placeholders.
//
//   const { text, entities } = redact('Mail maria@example.com');  // 'Mail [EMAIL_1]'
//   restore(cloudReply, entities);

// Highest priority first: an overlap keeps the entity whose type comes first,
// then the longer one. Checksummed types lead because they are near certain.
export const PII_TYPES = ['EMAIL', 'IBAN', 'CARD', 'SSN', 'IP', 'DOB', 'PHONE', 'ADDRESS', 'NAME'];

const isDigit = (c) => c >= '0' && c <= '9';
const digitsOf = (s) => s.replace(/\D/g, '');

// ---- checksums ------------------------------------------------------------

export function luhnValid(digits) {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

// Issuer ranges (prefix low..high over `width` leading digits) and lengths, so
// a Luhn-valid account or order number that no card network issues is skipped.
const CARD_ISSUERS = [
  [4, 4, 1, [13, 16, 19]], // Visa
  [51, 55, 2, [16]], [2221, 2720, 4, [16]], // Mastercard
  [34, 34, 2, [15]], [37, 37, 2, [15]], // Amex
  [6011, 6011, 4, [16, 17, 18, 19]], [644, 649, 3, [16, 17, 18, 19]], [65, 65, 2, [16, 17, 18, 19]], // Discover
  [3528, 3589, 4, [16, 17, 18, 19]], // JCB
  [300, 305, 3, [14, 15, 16, 17, 18, 19]], [36, 36, 2, [14, 15, 16, 17, 18, 19]], [38, 39, 2, [16, 17, 18, 19]], // Diners
  [62, 62, 2, [16, 17, 18, 19]], // UnionPay
  [2200, 2204, 4, [16, 17, 18, 19]], // Mir
  [50, 50, 2, [13, 14, 15, 16, 17, 18, 19]], [56, 69, 2, [13, 14, 15, 16, 17, 18, 19]], // Maestro
];

export function isCardNumber(digits) {
  if (!/^\d{13,19}$/.test(digits) || !luhnValid(digits)) return false;
  return CARD_ISSUERS.some(([low, high, width, lengths]) => {
    const prefix = Number(digits.slice(0, width));
    return prefix >= low && prefix <= high && lengths.includes(digits.length);
  });
}

// IBAN length per country (ISO 13616 registry); unknown countries only need
// a plausible length, the mod-97 check does the real work.
const IBAN_LENGTHS = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, CH: 21, CR: 22,
  CY: 28, CZ: 24, DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FO: 18, FR: 27, GB: 22,
  GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27,
  JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, MC: 27, MD: 24, ME: 22,
  MK: 19, MR: 27, MT: 31, MU: 30, NL: 18, NO: 15, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24,
  RS: 22, SA: 24, SC: 31, SE: 24, SI: 19, SK: 24, SM: 27, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24,
  XK: 20,
};

export function ibanValid(iban) {
  const s = iban.replace(/ /g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(s)) return false;
  const expected = IBAN_LENGTHS[s.slice(0, 2)];
  if (expected ? s.length !== expected : s.length < 15 || s.length > 34) return false;
  // Remainder of the rearranged number (letters as 10..35) taken digit by digit.
  let rest = 0;
  for (const c of s.slice(4) + s.slice(0, 4)) {
    const v = isDigit(c) ? c : String(c.charCodeAt(0) - 55);
    for (const d of v) rest = (rest * 10 + (d.charCodeAt(0) - 48)) % 97;
  }
  return rest === 1;
}

export function isIPv4(s) {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^(?:0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

export function isIPv6(s) {
  let text = s;
  const v4 = /(?:^|:)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (v4) {
    if (!isIPv4(v4[1])) return false;
    text = text.slice(0, text.length - v4[1].length) + '0:0'; // an IPv4 tail is two groups
  }
  const halves = text.split('::');
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => (h === '' ? [] : h.split(':')));
  if (!groups.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return false;
  return halves.length === 2 ? groups.length >= 1 && groups.length <= 7 : groups.length === 8;
}

// ---- detectors: each returns [{ type, start, end }] --------------------------

function spans(re, text, type, accept) {
  const out = [];
  for (const m of text.matchAll(re)) {
    const span = accept(m);
    if (span) out.push({ type, ...span });
  }
  return out;
}

// Spans ending at each separator of a candidate, longest first: an expiry date
// or a stray word after a card/IBAN must not sink the whole match.
function prefixesAtSeparators(value, sep) {
  const ends = [value.length];
  for (let i = value.length - 1; i > 0; i--) if (sep.test(value[i]) && !sep.test(value[i - 1])) ends.push(i);
  return ends;
}

const EMAIL_RE = /(?<![\w.%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])/g;
const detectEmail = (text) => spans(EMAIL_RE, text, 'EMAIL', (m) =>
  (m[0].includes('..') ? null : { start: m.index, end: m.index + m[0].length }));

const IBAN_RE = /(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,34}(?![A-Za-z0-9])/g;
const detectIban = (text) => spans(IBAN_RE, text, 'IBAN', (m) => {
  const end = prefixesAtSeparators(m[0], / /).find((n) => ibanValid(m[0].slice(0, n)));
  return end ? { start: m.index, end: m.index + end } : null;
});

// A run of digit groups; a card may start at any group of it: a phone or an
// order number written just before the card must not hide it.
const CARD_RE = /(?<![\d.,+-])\d(?:[ -]?\d){12,}(?!\d)/g;
const groupStarts = (run) => [0, ...[...run.matchAll(/[ -](?=\d)/g)].map((g) => g.index + 1)];

// Where a card starting at `start` could end: after a group, 13 to 19 digits
// on; longest first (an expiry date or more digits may follow the card).
function cardEnds(run, start) {
  const ends = [];
  for (let i = start, digits = 0; i < run.length && digits < 19; i++) {
    if (run[i] < '0' || run[i] > '9') continue;
    digits++;
    const groupEnds = i + 1 === run.length || run[i + 1] < '0' || run[i + 1] > '9';
    if (digits >= 13 && groupEnds) ends.unshift(i + 1);
  }
  return ends;
}

function detectCard(text) {
  const out = [];
  for (const m of text.matchAll(CARD_RE)) {
    let covered = 0;
    for (const start of groupStarts(m[0])) {
      if (start < covered) continue;
      const end = cardEnds(m[0], start).find((e) => isCardNumber(digitsOf(m[0].slice(start, e))));
      if (end === undefined) continue;
      out.push({ type: 'CARD', start: m.index + start, end: m.index + end });
      covered = end;
    }
  }
  return out;
}

// AAA-GG-SSSS with one separator kind; nine bare digits only right after a cue.
const SSN_RE = /(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])|(?<=\b(?:SSN|[Ss]ocial [Ss]ecurity(?: [Nn]umber| [Nn]o\.?)?)\D{0,12})(\d{3})()(\d{2})(\d{4})(?!\d)/g;
const ssnValid = (area, group, serial) =>
  area !== '000' && area !== '666' && area[0] !== '9' && group !== '00' && serial !== '0000';
const detectSsn = (text) => spans(SSN_RE, text, 'SSN', (m) => {
  const [area, group, serial] = m[1] ? [m[1], m[3], m[4]] : [m[5], m[7], m[8]];
  return ssnValid(area, group, serial) ? { start: m.index, end: m.index + m[0].length } : null;
});

const IPV4_RE = /(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)/g;
const IPV6_RE = /(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4})(?![\w:]|\.\w)/g;
const VERSION_CUE = /(?:\bversion|\bver\.?|\bv|\bbuild|\brelease|\bfirmware|\bOS)\s*$/i;
const detectIp = (text) => [
  ...spans(IPV4_RE, text, 'IP', (m) =>
    (isIPv4(m[0]) && !VERSION_CUE.test(text.slice(Math.max(0, m.index - 12), m.index))
      ? { start: m.index, end: m.index + m[0].length } : null)),
  ...spans(IPV6_RE, text, 'IP', (m) => (isIPv6(m[0]) ? { start: m.index, end: m.index + m[0].length } : null)),
];

// ---- dates of birth: a date with a birth cue shortly before or after ---------

const MONTHS = 'January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec';
const DATE_RE = new RegExp([
  String.raw`(?<![\d./-])\d{4}([./-])\d{1,2}\1\d{1,2}(?![\d./-]\d)`,
  String.raw`(?<![\d./-])\d{1,2}([./-])\d{1,2}\2(?:\d{4}|\d{2})(?![\d./-]\d)`,
  String.raw`\b\d{1,2}(?:st|nd|rd|th)?(?: of)? (?:${MONTHS})\.?,? \d{4}\b`,
  String.raw`\b(?:${MONTHS})\.? \d{1,2}(?:st|nd|rd|th)?,? \d{4}\b`,
].join('|'), 'gi');
const BIRTH_CUE = /\b(?:born|birth ?date|date of birth|d\.?o\.?b\b|birthday|b-day)/gi;

function hasBirthCue(text, start, end) {
  const before = text.slice(Math.max(0, start - 48), start);
  const cues = [...before.matchAll(BIRTH_CUE)];
  // A sentence break between the cue and the date means they are unrelated.
  if (cues.length && !/[.!?]\s+[A-Z]|[!?;\n]/.test(before.slice(cues.at(-1).index + cues.at(-1)[0].length))) return true;
  return /^[^.!?;\n]{0,24}?\b(?:birthday|date of birth|DOB|birth date)\b/i.test(text.slice(end, end + 40));
}

const detectDob = (text) => spans(DATE_RE, text, 'DOB', (m) =>
  (hasBirthCue(text, m.index, m.index + m[0].length) ? { start: m.index, end: m.index + m[0].length } : null));

// ---- phones ---------------------------------------------------------------

const PHONE_RE = /(?<![\w+$€£#.,\/@-])(?:\+|\(\+?)?\d[\d ().-]{3,24}\d(?![\w\/@]|[.,]\d|-\w)/g;
const PHONE_CUE = /\b(?:phone|tel|telephone|call|calls|mobile|cell|text|sms|whatsapp|fax|ring|dial|reach|contact|number|line)\b[^\d\n]{0,16}$/i;
const NOT_PHONE_CUE = /(?:#|\b(?:order|invoice|ref|reference|ticket|tracking|account|acct|case|id|no|serial|sku|isbn|po|item|version|build|policy|booking|confirmation|room|flight|batch|lot|zip|postcode|population|total|price|cost|amount|year|pin|code|part|model)\b)[^\d\n]{0,12}$/i;

// National numbers: a trunk prefix 0 (most countries) or a North American
// 3-3-4 / 3-4 shape; anything else (ticket, lot, ISBN, ranges) needs a cue.
const DATE_START = /^(?:\d{4}-\d\d-\d\d|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}$)/;
const NANP_SHAPE = /^(?:1[ .-])?(?:\(\d{3}\) ?|\d{3}[ .-])?\d{3}[ .-]\d{4}$/;

function phoneValid(value, before) {
  if (/\) ?\(|\(\)|[.-][ .-]*[.-]/.test(value) || DATE_START.test(value)) return false;
  const opens = value.split('(').length - 1;
  if (opens !== value.split(')').length - 1 || opens > 1) return false;
  const groups = value.split(/\D+/).filter(Boolean);
  const digits = groups.join('');
  const plus = value.startsWith('+') || value.startsWith('(+');
  const international = plus || digits.startsWith('00');
  const count = international && !plus ? digits.length - 2 : digits.length;
  if (international ? count < 8 || count > 15 : count < 7 || count > 12) return false;
  // A lone digit is a list item or version part; allowed as a leading trunk or
  // country code, as the area right after a country code, as "(0)", and as the
  // final "0" of a German/Austrian switchboard (+49 89 2350 0).
  const loneAllowed = (g, i) => i === 0 || (international && i === 1) || value.includes(`(${g})`) ||
    (international && g === '0' && i === groups.length - 1);
  if (groups.some((g, i) => g.length === 1 && !loneAllowed(g, i))) return false;
  if (NOT_PHONE_CUE.test(before)) return false;
  if (international) return true;
  const cued = PHONE_CUE.test(before);
  if (groups.length === 1) return cued; // a bare digit run is a phone only when introduced as one
  return digits.startsWith('0') || NANP_SHAPE.test(value) || cued;
}

// The longest valid prefix, so "415-555-0132 2 times" keeps its phone.
const detectPhone = (text) => spans(PHONE_RE, text, 'PHONE', (m) => {
  const before = text.slice(Math.max(0, m.index - 40), m.index);
  const end = prefixesAtSeparators(m[0], /[ .-]/)
    .map((n) => m[0].slice(0, n).replace(/[ (.-]+$/, '').length)
    .find((n) => phoneValid(m[0].slice(0, n), before));
  return end ? { start: m.index, end: m.index + end } : null;
});

// ---- street addresses -------------------------------------------------------

const CAP = String.raw`\p{Lu}[\p{L}'’-]*`;
const SUFFIX = 'Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Way|Terrace|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Crescent|Close|Grove|Row|Trail|Walk|Alley|Plaza|Mews|Gardens';
const UNIT = String.raw`(?:,? (?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Fl|Room|Rm)\.? ?#?[A-Za-z0-9-]+|,? #\s?\d+[A-Za-z]?)`;
const POSTAL = String.raw`(?:\d{5}(?:-\d{4})?|\d{4}|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})`; // US, AU/NZ/EU, UK
const WORD = String.raw`\p{Lu}\p{Ll}[\p{L}'’-]*`;
const CITY = String.raw`(?!(?:The|Then|But|And|So|I|We|My|Our|Please|Thanks|If|It|This|That|Call|Or|Also)\b)${WORD}(?: ${WORD}){0,2}`;
const ADDRESS_RE = new RegExp(
  String.raw`(?<![\w.-])\d{1,5}[A-Za-z]?(?:-\d{1,5})? (?:(?:N|S|E|W|North|South|East|West)\.? )?(?:\d{1,3}(?:st|nd|rd|th)|${CAP})(?: ${CAP}){0,3} (?:${SUFFIX})\b\.?` +
  String.raw`(?: (?:NE|NW|SE|SW|N|S|E|W)\b)?${UNIT}?` +
  String.raw`(?:,? ${POSTAL}\b|, ${CITY}(?:,? [A-Z]{2,3}\b)?(?:,? ${POSTAL}\b)?)?`, 'gu');
// "In 2019 Main Street was closed": a year after a preposition is no house number.
const YEAR_CUE = /\b(?:in|since|by|from|until|of|during|before|after)\s+$/i;
const detectAddress = (text) => spans(ADDRESS_RE, text, 'ADDRESS', (m) => {
  if (/^(?:19|20)\d\d /.test(m[0]) && YEAR_CUE.test(text.slice(Math.max(0, m.index - 8), m.index))) return null;
  // An abbreviation's dot counts only when more of the address follows it.
  return { start: m.index, end: m.index + m[0].replace(/\.$/, '').length };
});

// ---- person names ---------------------------------------------------------

const wordSet = (words) => new Set(words.trim().split(/\s+/).map((w) => w.toLowerCase()));

// Common given names across languages and regions (romanised). A capitalised
// word from this list starts a name; the model hook covers the rest.
const COMMON_FIRST_NAMES = wordSet(`
  James John Robert Michael William David Richard Joseph Thomas Charles Christopher Daniel Matthew
  Anthony Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy Ronald Edward Jason
  Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin Scott Brandon Benjamin Samuel
  Gregory Alexander Patrick Jack Dennis Jerry Tyler Aaron Henry Douglas Peter Adam Nathan Zachary
  Walter Kyle Harold Carl Jeremy Gerald Keith Roger Arthur Terry Lawrence Sean Christian Ethan
  Austin Joe Albert Jesse Willie Billy Bruce Noah Oliver Harry Liam Lucas Leo Oscar Theo Archie
  Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty Sandra
  Margaret Ashley Kimberly Emily Donna Michelle Carol Amanda Melissa Deborah Stephanie Rebecca Laura
  Sharon Cynthia Kathleen Amy Angela Shirley Anna Brenda Pamela Emma Nicole Helen Samantha Katherine
  Christine Debra Rachel Carolyn Janet Catherine Maria Heather Diane Olivia Julie Joyce Victoria
  Kelly Christina Lauren Joan Evelyn Judith Megan Andrea Cheryl Hannah Jacqueline Martha Gloria
  Teresa Ann Sara Madison Frances Kathryn Janice Jean Abigail Alice Judy Sophia Denise Amber Doris
  Marilyn Danielle Beverly Isabella Theresa Diana Natalie Brittany Charlotte Marie Kayla Alexis Lori
  Chloe Sophie Lucy Ella Mia Amelia Isla Freya Poppy Zoe Zoë Claire Fiona Siobhan Aoife Niamh Ciara
  Sinead Seamus Declan Eoin Padraig Callum Hamish Angus Morag Eilidh Rhys Dafydd Gareth Cerys
  Jose José Juan Luis Carlos Jorge Miguel Pedro Alejandro Javier Diego Fernando Ricardo Manuel
  Rafael Antonio Francisco Pablo Sergio Andres Andrés Mateo Santiago Camila Valentina Lucia Lucía
  Sofia Sofía Isabel Carmen Elena Paula Ana Gabriela Daniela Mariana Fernanda Alejandra Ximena
  Joao João Thiago Gustavo Rodrigo Bruno Felipe Leticia Beatriz Larissa Renata
  Jean-Pierre Pierre Jacques Francois François Philippe Nicolas Julien Mathieu Guillaume Antoine
  Louis Camille Chloé Manon Amelie Amélie Juliette Margaux Celine Céline Aurelie Aurélie Benoit
  Hans Jurgen Jürgen Klaus Wolfgang Stefan Matthias Tobias Lukas Jonas Felix Maximilian Florian
  Katharina Anja Ulrike Ursula Heike Petra Sabine Greta Lena Johanna Marco Giuseppe Giovanni Luca
  Alessandro Francesco Matteo Lorenzo Giulia Chiara Francesca Alessia Federica Sven Lars Erik Nils
  Bjorn Björn Anders Magnus Ingrid Astrid Sigrid Freja Annika Saoirse Katarzyna Agnieszka Piotr
  Tomasz Krzysztof Pawel Paweł Lukasz Łukasz Jakub Marek Olga Irina Natasha Natalia Svetlana Tatiana
  Anastasia Ekaterina Dmitri Dmitry Sergei Sergey Vladimir Ivan Alexei Nikolai Mikhail Andrei Oksana
  Bogdan Dragan Milos Miloš Jelena Ivana Mehmet Mustafa Ahmet Emre Ayse Ayşe Elif Zeynep Fatma Burak
  Mohammed Muhammad Mohamed Ahmed Ali Omar Hassan Hussein Ibrahim Youssef Yusuf Khalid Tariq Karim
  Samir Rami Hamza Bilal Faisal Abdullah Fatima Aisha Amina Layla Leila Yasmin Yasmine Noor Nour
  Mariam Maryam Zainab Huda Salma Reza Dariush Parisa Shirin Arash Farhad Navid Cyrus Roya
  Priya Ananya Aditi Divya Kavya Lakshmi Meera Neha Pooja Shreya Sunita Anjali Deepika Aarav Arjun
  Rahul Rohan Vikram Sanjay Suresh Ramesh Rajesh Amit Anil Vijay Ravi Karthik Arun Nikhil Siddharth
  Aditya Ishaan Vivek Manish Harpreet Gurpreet Jaspreet Sandeep Imran Farhan Ayesha Sana Zara
  Wei Fang Jing Xiaoming Xiaoling Mei Ling Jun Hao Yang Lei Yan Hui Qiang Zhiwei Xiu Chen
  Hiroshi Takeshi Kenji Haruto Yuki Yuto Sota Daiki Akira Sakura Yui Aiko Haruka Naomi Keiko Yoko
  Minjun Seojun Jiho Jisoo Minji Seoyeon Jiwoo Hyun Sungmin Thanh Minh Linh Huong Nguyen Anh
  Chidi Chinedu Emeka Ngozi Chiamaka Adaeze Oluwaseun Olumide Tunde Ayodele Folake Funmilayo
  Kwame Kofi Ama Akosua Abena Yaw Kwabena Thabo Sipho Lerato Nomvula Zanele Wanjiru Amani Baraka
  Jabari Imani Zuri Tendai Tatenda Nia Kaveh Moshe Avi Yosef Noa Tamar Yael Shira Eitan Ori
  Tala Keanu Kalani Leilani Malia Mele Sione Tane Aroha Wiremu Mikaere Ngaio Anahera
  Anne Marta Agnes Hanna Karin Elin Emilia Julia Martin Peter Jan Tom Tim Sam Ben Dan Max
  Emil Vera Dora Ida Ines Inés Nina Rita Eva Ava Ada Rosa Lara Maya Aria Aurora Jasmine Caroline
  Rose Grace Jack Mark Will May June April Faith Hope Joy Jordan Victoria Georgia Florence Paris
  Bill Frank Ray Dean Art Penny Sunny Summer Ruby Iris Lily Daisy Holly Ivy Hunter Chase Austin
`);

// Given names that are also everyday words or places: only with a surname.
const AMBIGUOUS_FIRST_NAMES = wordSet(`
  Will May June April August Mark Bill Grace Rose Faith Hope Joy Jordan Victoria Georgia Florence
  Paris Frank Ray Dean Art Penny Sunny Summer Ruby Iris Lily Daisy Holly Ivy Hunter Chase Austin
  Jack Ling Jun Hao Yang Lei Yan Hui Mei Chen Ali Noor Nour Amber Joe Carol Jean Ann Mia Ella
  Anh Minh Nguyen Ama Nia Ori Noa Ada Eva Ava Vera Rita Nina Maya Aria Aurora Lucas Leo Felix
  Christian Sofia Camille Emil Ida Dora
`);

// Capitalised words that end a name or show it is no name (places, firms,
// days, months, greetings, street suffixes, sentence starters).
const NOT_NAME_WORDS = wordSet(`
  Street St Avenue Ave Road Rd Boulevard Blvd Lane Ln Drive Court Place Way Terrace Square Station
  Park Bridge Hill Gardens Airport Hospital Clinic University College School Academy Institute
  Tech Bank Hotel Centre Center Mall Market Museum Library Church Cathedral Stadium Arena Hall
  Inc Ltd LLC Corp Corporation Company Co Group Team Teams Pay Store Shop Cloud Office Labs Studio
  Studios Foundation Fund Trust Partners Consulting Airlines Airways Motors Pharma Health Insurance
  Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March July September
  October November December Christmas Easter Day Night Morning Evening Weekend Week Month Year
  Mr Mrs Ms Miss Mx Dr Prof Professor Dame Rev Capt Captain Sgt Judge Mme Mlle Herr Frau Sr Sra
  Customer Customers Sir Madam All Everyone Colleagues Friends Support Manager Hiring Sales
  Admin Service Services Department Committee Board Council Ministry Police City County State
  The A An And Or But If So Then This That These Those There Here It Its I We You He She They
  My Our Your His Her Their Please Thanks Thank Hello Hi Dear Regards Best Yes No Not Also
  Edition Version Pro Max Plus Mini Ultra Series Model Update Release Beta Alpha
  North South East West New Old Great Little Big Saint San Santa Mount Lake River Island Valley
`);

const TOKEN = String.raw`(?:Mc|Mac|O['’]|D['’])?\p{Lu}\p{Ll}+(?:-\p{Lu}\p{Ll}+)?`;
const PARTICLE = String.raw`(?:van|von|de|del|della|da|di|du|la|le|bin|ibn|al|el|der|den|dos|das|ter)`;
const FULL_NAME = String.raw`${TOKEN}(?: (?:${PARTICLE} ){0,2}${TOKEN}){0,2}`;
const TITLE_RE = new RegExp(String.raw`\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Professor|Sir|Dame|Rev|Capt|Captain|Sgt|Judge|Mme|Mlle|Herr|Frau|Sr|Sra)\.? ((?:${PARTICLE} ){0,2}${FULL_NAME})`, 'gud');
const STRONG_CUE_RE = new RegExp(String.raw`(?:\b[Mm]y name is|\b[Mm]y name's|\b[Ss]igned,?|\b[Ss]incerely,?|\b[Rr]egards,?|\b[Dd]ear|^(?:Hi|Hello|Hey|Thanks|Cheers|Best|Yours),?|\n(?:Hi|Hello|Hey|Thanks|Cheers|Best|Yours),?)\s+(${FULL_NAME})`, 'gumd');
const WEAK_CUE_RE = new RegExp(String.raw`\b(?:I am|I['’]m|[Tt]his is|[Cc]all me|named|called)\s+(${FULL_NAME})`, 'gud');
const NAME_RUN_RE = new RegExp(String.raw`(?<![\p{L}'’-])${TOKEN}(?: (?:${PARTICLE} ){0,2}${TOKEN}){0,5}`, 'gu');

const PLACE_PREFIXES = wordSet('San Santa Santo Saint St Sao São Los Las Fort Port Mount Lake New Cape');
const isNotName = (token) => NOT_NAME_WORDS.has(token.toLowerCase());
// "Anne-Marie" counts when its first part is listed.
const isFirstName = (token) => COMMON_FIRST_NAMES.has(token.toLowerCase()) || COMMON_FIRST_NAMES.has(token.split('-')[0].toLowerCase());

// Cuts a matched name before the first word that is not part of a name.
function trimName(value) {
  const words = value.split(' ');
  const keep = words.findIndex(isNotName);
  return (keep < 0 ? words : words.slice(0, keep)).join(' ').replace(new RegExp(` ${PARTICLE}$`), '');
}

function nameSpan(start, value, acceptSingle) {
  const name = trimName(value);
  if (!name || (!name.includes(' ') && !acceptSingle(name))) return null;
  return { start, end: start + name.length };
}

// A run of capitalised words holds a name from its first listed given name on
// ("Yesterday Ahmed Hassan" -> "Ahmed Hassan").
function listedName(run, at) {
  const words = run.split(' ');
  const first = words.findIndex(isFirstName);
  if (first < 0 || PLACE_PREFIXES.has(words[first - 1]?.toLowerCase())) return null;
  const start = at + words.slice(0, first).reduce((n, w) => n + w.length + 1, 0);
  const rest = words.slice(first, first + 4);
  if (rest.length > 1 && isNotName(rest[1])) {
    return AMBIGUOUS_FIRST_NAMES.has(rest[0].toLowerCase()) ? null : { start, end: start + rest[0].length };
  }
  return nameSpan(start, rest.join(' '), (w) => !AMBIGUOUS_FIRST_NAMES.has(w.toLowerCase()));
}

function detectNames(text) {
  const fromGroup = (re, acceptSingle) => spans(re, text, 'NAME', (m) => nameSpan(m.indices[1][0], m[1], acceptSingle));
  return [
    ...fromGroup(TITLE_RE, () => true),
    ...fromGroup(STRONG_CUE_RE, () => true),
    ...fromGroup(WEAK_CUE_RE, isFirstName),
    ...spans(NAME_RUN_RE, text, 'NAME', (m) => listedName(m[0], m.index)),
  ];
}

// ---- assembling ------------------------------------------------------------

const DETECTORS = {
  EMAIL: detectEmail, IBAN: detectIban, CARD: detectCard, SSN: detectSsn, IP: detectIp,
  DOB: detectDob, PHONE: detectPhone, ADDRESS: detectAddress, NAME: detectNames,
};

function externalNames(text, nameDetector) {
  const found = nameDetector(text);
  if (!Array.isArray(found)) throw new TypeError('options.nameDetector must return an array of { start, end }');
  return found
    .filter((s) => s && Number.isInteger(s.start) && Number.isInteger(s.end) && s.start >= 0 && s.start < s.end && s.end <= text.length)
    .map((s) => ({ type: 'NAME', start: s.start, end: s.end }));
}

// Keeps the best of overlapping spans: type priority, then length, then
// position. Marking taken characters keeps this linear in the text's length.
function resolveOverlaps(candidates, length) {
  const rank = (s) => PII_TYPES.indexOf(s.type);
  const ordered = [...candidates].sort((a, b) =>
    rank(a) - rank(b) || (b.end - b.start) - (a.end - a.start) || a.start - b.start);
  const taken = new Uint8Array(length);
  const kept = ordered.filter((s) => {
    if (taken.subarray(s.start, s.end).includes(1)) return false;
    taken.fill(1, s.start, s.end);
    return true;
  });
  return kept.sort((a, b) => a.start - b.start);
}

// Values that differ only in spacing or case share a placeholder.
function valueKey(type, value) {
  if (type === 'CARD' || type === 'PHONE' || type === 'SSN') return `${type}:${digitsOf(value)}`;
  if (type === 'IBAN' || type === 'EMAIL' || type === 'IP') return `${type}:${value.replace(/ /g, '').toLowerCase()}`;
  return `${type}:${value}`;
}

function checkOptions(options) {
  if (options === null || typeof options !== 'object') throw new TypeError('redact options must be an object');
  for (const key of Object.keys(options)) {
    if (key !== 'types' && key !== 'nameDetector') throw new TypeError(`unknown redact option "${key}"`);
  }
  const types = options.types ?? PII_TYPES;
  if (!Array.isArray(types) || !types.every((t) => PII_TYPES.includes(t))) {
    throw new TypeError(`options.types must be an array of ${PII_TYPES.join(', ')}`);
  }
  if (options.nameDetector !== undefined && typeof options.nameDetector !== 'function') {
    throw new TypeError('options.nameDetector must be a function');
  }
  return types;
}

export function redact(text, options = {}) {
  if (typeof text !== 'string') throw new TypeError('redact: text must be a string');
  const { texts: [out], entities } = redactAll([text], options);
  return { text: out, entities: entities.map(({ text: _, ...entity }) => entity) };
}

// Several texts with one numbering, so that in a conversation a value keeps
// one placeholder in every message. Each entity also says which text (index)
// its offsets are in.
export function redactAll(texts, options = {}) {
  if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) {
    throw new TypeError('redactAll: texts must be an array of strings');
  }
  const types = checkOptions(options);
  const placeholders = new Map();
  const counters = {};
  // Skip numbers whose placeholder a text already contains, so restore stays unambiguous.
  const present = new Set(texts.flatMap((t) => t.match(/\[[A-Z]+_\d+\]/g) ?? []));
  const placeholderOf = (type, value) => {
    const key = valueKey(type, value);
    if (!placeholders.has(key)) {
      let placeholder;
      do placeholder = `[${type}_${(counters[type] = (counters[type] ?? 0) + 1)}]`; while (present.has(placeholder));
      placeholders.set(key, placeholder);
    }
    return placeholders.get(key);
  };
  const entities = [];
  const out = texts.map((text, index) => {
    const candidates = types.flatMap((type) => DETECTORS[type](text));
    if (options.nameDetector && types.includes('NAME')) candidates.push(...externalNames(text, options.nameDetector));
    let redacted = '';
    let at = 0;
    for (const { type, start, end } of resolveOverlaps(candidates, text.length)) {
      const value = text.slice(start, end);
      const placeholder = placeholderOf(type, value);
      entities.push({ type, placeholder, value, start, end, text: index });
      redacted += text.slice(at, start) + placeholder;
      at = end;
    }
    return redacted + text.slice(at);
  });
  return { texts: out, entities };
}

// Replaces every placeholder the reply contains, in any order and any number
// of times; placeholders it does not know are left as they are.
export function restore(text, entities) {
  if (typeof text !== 'string') throw new TypeError('restore: text must be a string');
  if (!Array.isArray(entities)) throw new TypeError('restore: entities must be the array redact returned');
  const values = new Map();
  for (const e of entities) {
    if (e && typeof e.placeholder === 'string' && typeof e.value === 'string' && !values.has(e.placeholder)) {
      values.set(e.placeholder, e.value);
    }
  }
  return text.replace(/\[\s*([A-Z]+_\d+)\s*\]/g, (match, id) => values.get(`[${id}]`) ?? match);
}
