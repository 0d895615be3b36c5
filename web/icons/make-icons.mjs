// Draws the app icons (node web/icons/make-icons.mjs): a navy square with a
// white ring around a 3x3 grid of dots, a small "network on a chip". The
// PNGs are committed; this script is how to remake them.
import fs from 'node:fs';
import zlib from 'node:zlib';

const NAVY = [0x1d, 0x35, 0x57];
const WHITE = [0xff, 0xff, 0xff];
const SKY = [0x8e, 0xc5, 0xff];

function colorAt(x, y, size) {
  const u = (x + 0.5) / size - 0.5;
  const v = (y + 0.5) / size - 0.5;
  const r = Math.hypot(u, v);
  if (r > 0.3 && r < 0.36) return WHITE;
  for (const gy of [-1, 0, 1]) {
    for (const gx of [-1, 0, 1]) {
      if (Math.hypot(u - gx * 0.12, v - gy * 0.12) < 0.04) return gx === 0 && gy === 0 ? WHITE : SKY;
    }
  }
  return NAVY;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

function png(size) {
  const rows = Buffer.alloc(size * (1 + size * 3));
  for (let y = 0; y < size; y++) {
    const row = y * (1 + size * 3);
    for (let x = 0; x < size; x++) rows.set(colorAt(x, y, size), row + 1 + x * 3);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8;  // bit depth
  header[9] = 2;  // RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(rows, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

for (const size of [192, 512]) {
  fs.writeFileSync(new URL(`icon-${size}.png`, import.meta.url), png(size));
}
