// Splits a GGUF file the way llama.cpp's gguf-split does: part 1 keeps the
// metadata, every part carries split.no / split.count / split.tensors.count
// and its share of the tensors (data copied as is, alignment kept).
const SCALAR_SIZE = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const STRING = 8;
const ARRAY = 9;

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.at = 0;
  }

  u32() { const v = this.view.getUint32(this.at, true); this.at += 4; return v; }
  u64() { const v = Number(this.view.getBigUint64(this.at, true)); this.at += 8; return v; }
  string() { const n = this.u64(); const s = this.bytes.subarray(this.at, this.at + n); this.at += n; return s; }

  skipValue(type) {
    if (type === STRING) this.string();
    else if (type === ARRAY) {
      const elementType = this.u32();
      const n = this.u64();
      for (let i = 0; i < n; i++) this.skipValue(elementType);
    } else this.at += SCALAR_SIZE[type];
  }
}

class Writer {
  constructor() { this.chunks = []; this.length = 0; }
  bytes(b) { this.chunks.push(b); this.length += b.length; }
  u16(v) { const b = Buffer.alloc(2); b.writeUInt16LE(v); this.bytes(b); }
  u32(v) { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.bytes(b); }
  i32(v) { const b = Buffer.alloc(4); b.writeInt32LE(v); this.bytes(b); }
  u64(v) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.bytes(b); }
  string(s) { const b = Buffer.from(s); this.u64(b.length); this.bytes(b); }
  pad(alignment) { this.bytes(Buffer.alloc((alignment - (this.length % alignment)) % alignment)); }
  result() { return Buffer.concat(this.chunks); }
}

// Returns nParts Buffers.
export function splitGguf(bytes, nParts, alignment = 32) {
  const r = new Reader(bytes);
  if (Buffer.from(bytes.subarray(0, 4)).toString() !== 'GGUF') throw new Error('not a GGUF file');
  r.at = 4;
  const version = r.u32();
  const nTensors = r.u64();
  const nKv = r.u64();
  const kvStart = r.at;
  for (let i = 0; i < nKv; i++) {
    r.string();
    r.skipValue(r.u32());
  }
  const kvBytes = bytes.subarray(kvStart, r.at);
  const tensors = [];
  for (let i = 0; i < nTensors; i++) {
    const start = r.at;
    r.string();
    const nDims = r.u32();
    r.at += 8 * nDims + 4;
    const offsetAt = r.at;
    tensors.push({ info: bytes.subarray(start, offsetAt), offset: r.u64() });
  }
  const dataStart = Math.ceil(r.at / alignment) * alignment;
  const ends = tensors.map((t, i) => (i + 1 < tensors.length ? tensors[i + 1].offset : bytes.length - dataStart));
  tensors.forEach((t, i) => { t.data = bytes.subarray(dataStart + t.offset, dataStart + ends[i]); });

  const perPart = Math.ceil(tensors.length / nParts);
  return Array.from({ length: nParts }, (_, part) => {
    const mine = tensors.slice(part * perPart, (part + 1) * perPart);
    const w = new Writer();
    w.bytes(Buffer.from('GGUF'));
    w.u32(version);
    w.u64(mine.length);
    w.u64((part === 0 ? nKv : 0) + 3);
    if (part === 0) w.bytes(kvBytes);
    w.string('split.no'); w.u32(2); w.u16(part);
    w.string('split.count'); w.u32(2); w.u16(nParts);
    w.string('split.tensors.count'); w.u32(5); w.i32(tensors.length);
    let offset = 0;
    for (const t of mine) {
      w.bytes(t.info);
      w.u64(offset);
      offset += Math.ceil(t.data.length / alignment) * alignment;
    }
    w.pad(alignment);
    for (const t of mine) {
      w.bytes(t.data);
      w.pad(alignment);
    }
    return w.result();
  });
}
