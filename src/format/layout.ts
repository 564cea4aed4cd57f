/**
 * Declarative little-endian struct layouts. Each on-disk struct is declared once as a table of
 * (name, offset, kind); reading and writing both go through that table.
 */

export type FieldKind = 'u8' | 'u16' | 'u32' | 'u64' | { readonly bytes: number };

export interface FieldSpec {
  readonly name: string;
  readonly offset: number;
  readonly kind: FieldKind;
}

type ValueOfKind<K extends FieldKind> = K extends 'u64'
  ? bigint
  : K extends { readonly bytes: number }
    ? Uint8Array
    : number;

export type StructValue<F extends readonly FieldSpec[]> = {
  -readonly [P in F[number] as P['name']]: ValueOfKind<P['kind']>;
};

export interface StructLayout<F extends readonly FieldSpec[] = readonly FieldSpec[]> {
  readonly name: string;
  readonly size: number;
  readonly fields: F;
  /** Decode from `bytes` at `offset`. Byte-array fields are views into `bytes`, not copies. */
  read(bytes: Uint8Array, offset?: number): StructValue<F>;
  /** Encode into `bytes` at `offset`. Bytes the layout does not cover are left untouched. */
  write(value: StructValue<F>, bytes: Uint8Array, offset?: number): void;
  /** Encode into a fresh zero-filled buffer of `size` bytes. */
  encode(value: StructValue<F>): Uint8Array;
}

export function widthOf(kind: FieldKind): number {
  switch (kind) {
    case 'u8':
      return 1;
    case 'u16':
      return 2;
    case 'u32':
      return 4;
    case 'u64':
      return 8;
    default:
      return kind.bytes;
  }
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Declare a struct. Throws at module load if fields overlap or run past `size`. */
export function defineStruct<const F extends readonly FieldSpec[]>(
  name: string,
  size: number,
  fields: F,
): StructLayout<F> {
  const covered = new Uint8Array(size);
  for (const f of fields) {
    const end = f.offset + widthOf(f.kind);
    if (end > size) throw new Error(`layout ${name}: field ${f.name} ends at ${end}, past size ${size}`);
    for (let i = f.offset; i < end; i++) {
      if (covered[i]) throw new Error(`layout ${name}: field ${f.name} overlaps another field`);
      covered[i] = 1;
    }
  }

  // Compiled on first use: most programs read only a few of the layouts they load.
  let reader: Reader<F> | undefined;
  const read: Reader<F> = (bytes, offset) => (reader ??= compileReader<F>(name, size, fields))(bytes, offset);

  const write = (value: StructValue<F>, bytes: Uint8Array, offset = 0): void => {
    if (offset < 0 || offset + size > bytes.length) {
      throw new RangeError(`layout ${name}: ${size} bytes at ${offset} exceed buffer of ${bytes.length}`);
    }
    const dv = view(bytes);
    const record = value as Record<string, unknown>;
    for (const f of fields) {
      const at = offset + f.offset;
      const v = record[f.name];
      switch (f.kind) {
        case 'u8':
          dv.setUint8(at, checkedNumber(name, f.name, v, 0xff));
          break;
        case 'u16':
          dv.setUint16(at, checkedNumber(name, f.name, v, 0xffff), true);
          break;
        case 'u32':
          dv.setUint32(at, checkedNumber(name, f.name, v, 0xffff_ffff), true);
          break;
        case 'u64':
          dv.setBigUint64(at, checkedBigint(name, f.name, v), true);
          break;
        default: {
          if (!(v instanceof Uint8Array) || v.length > f.kind.bytes) {
            throw new RangeError(`layout ${name}: field ${f.name} needs at most ${f.kind.bytes} bytes`);
          }
          bytes.fill(0, at, at + f.kind.bytes);
          bytes.set(v, at);
        }
      }
    }
  };

  return {
    name,
    size,
    fields,
    read,
    write,
    encode(value) {
      const out = new Uint8Array(size);
      write(value, out, 0);
      return out;
    },
  };
}

function checkedNumber(struct: string, field: string, v: unknown, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new RangeError(`layout ${struct}: field ${field} must be an integer in 0..${max}, got ${String(v)}`);
  }
  return v;
}

const U64_MAX = (1n << 64n) - 1n;

function checkedBigint(struct: string, field: string, v: unknown): bigint {
  if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) {
    throw new RangeError(`layout ${struct}: field ${field} must be a bigint in 0..2^64-1, got ${String(v)}`);
  }
  return v;
}

type Reader<F extends readonly FieldSpec[]> = (bytes: Uint8Array, offset?: number) => StructValue<F>;

function byteAt(offset: number): string {
  return `b[o + ${offset}]`;
}

function u32Expression(offset: number): string {
  return `((${byteAt(offset)} | (${byteAt(offset + 1)} << 8) | (${byteAt(offset + 2)} << 16) | (${byteAt(offset + 3)} << 24)) >>> 0)`;
}

/** Reads straight from the bytes (no DataView per read); u64 is assembled from two u32 halves. */
function fieldExpression(f: FieldSpec): string {
  switch (f.kind) {
    case 'u8':
      return byteAt(f.offset);
    case 'u16':
      return `(${byteAt(f.offset)} | (${byteAt(f.offset + 1)} << 8))`;
    case 'u32':
      return u32Expression(f.offset);
    case 'u64':
      return `u64(${u32Expression(f.offset)}, ${u32Expression(f.offset + 4)})`;
    default:
      return `b.subarray(o + ${f.offset}, o + ${f.offset + f.kind.bytes})`;
  }
}

function u64(lo: number, hi: number): bigint {
  return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * A reader for one layout. Parsing touches every header of a file, so readers are compiled from the
 * table into a function that builds each object with one literal (a fixed shape, no per-field
 * dispatch). Where code generation is not allowed (a strict Content-Security-Policy), an interpreter
 * over the same table is used.
 */
function compileReader<F extends readonly FieldSpec[]>(name: string, size: number, fields: F): Reader<F> {
  const check = (bytes: Uint8Array, offset: number): void => {
    if (offset < 0 || offset + size > bytes.length) {
      throw new RangeError(`layout ${name}: ${size} bytes at ${offset} exceed buffer of ${bytes.length}`);
    }
  };
  try {
    const body = fields.map((f) => `${JSON.stringify(f.name)}: ${fieldExpression(f)}`).join(',\n');
    const make = new Function('u64', `return (b, o) => ({\n${body}\n});`)(u64) as (
      b: Uint8Array,
      o: number,
    ) => StructValue<F>;
    return (bytes, offset = 0) => {
      check(bytes, offset);
      return make(bytes, offset);
    };
  } catch {
    return (bytes, offset = 0) => {
      check(bytes, offset);
      const dv = view(bytes);
      const out: Record<string, number | bigint | Uint8Array> = {};
      for (const f of fields) {
        const at = offset + f.offset;
        switch (f.kind) {
          case 'u8':
            out[f.name] = dv.getUint8(at);
            break;
          case 'u16':
            out[f.name] = dv.getUint16(at, true);
            break;
          case 'u32':
            out[f.name] = dv.getUint32(at, true);
            break;
          case 'u64':
            out[f.name] = dv.getBigUint64(at, true);
            break;
          default:
            out[f.name] = bytes.subarray(at, at + f.kind.bytes);
        }
      }
      return out as StructValue<F>;
    };
  }
}
