/** Parsing of address lists given on the command line or stdin. */

export interface ParsedAddress {
  /** The text as given (for echoing back). */
  text: string;
  /** The value, or undefined when `text` is not an address. */
  value: bigint | undefined;
}

const HEX = /^0[xX][0-9a-fA-F]{1,16}$/;
const DEC = /^[0-9]{1,20}$/;

/** "0x…" is hex, digits alone are decimal (as the issue specifies); anything else is invalid. */
export function parseAddress(text: string): ParsedAddress {
  const t = text.trim();
  if (HEX.test(t) || DEC.test(t)) {
    const v = BigInt(t);
    return { text: t, value: v <= 0xffff_ffff_ffff_ffffn ? v : undefined };
  }
  return { text: t, value: undefined };
}

/** Splits text into address tokens: one or more per line, separated by whitespace or commas; `#` starts a comment. */
export function* addressTokens(text: string): Generator<string> {
  for (const line of text.split(/\r\n|\r|\n/)) {
    const body = line.replace(/#.*/, "");
    for (const tok of body.split(/[\s,]+/)) if (tok !== "") yield tok;
  }
}

/** Parses a hex (0x optional) or decimal base given to --base. */
export function parseBase(text: string): bigint | undefined {
  const t = text.trim();
  if (/^(0[xX])?[0-9a-fA-F]{1,16}$/.test(t))
    return BigInt(t.startsWith("0x") || t.startsWith("0X") ? t : `0x${t}`);
  return undefined;
}

const TEXT = new TextDecoder();

function isSeparator(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9 || c === 44 || c === 11 || c === 12;
}

/**
 * Fast path of addressTokens + parseAddress for bulk input, over bytes (stdin as read, with no
 * decoding of the whole input): calls `emit(value, text)` for every token of b[start, end), with
 * `value` a number when the address is below 2^53, a bigint above, and undefined when the token
 * is not an address. `text` (decoded as UTF-8) is given only for the latter two; no regular
 * expressions, no per-token allocation on the fast path.
 */
export function scanAddressBytes(
  b: Uint8Array,
  start: number,
  end: number,
  emit: (value: number | bigint | undefined, text: string) => void,
): void {
  let i = start;
  while (i < end) {
    let c = b[i]!;
    if (isSeparator(c)) {
      i++;
      continue;
    }
    if (c === 35) {
      // A comment runs to the end of the line (CR or LF, as in addressTokens).
      while (i < end && b[i] !== 10 && b[i] !== 13) i++;
      continue;
    }
    const s = i;
    let v = 0;
    let digits = 0;
    let ok = true;
    if (c === 48 && i + 1 < end && (b[i + 1]! | 32) === 120) {
      // hex: 0x and 1 to 16 digits
      for (i += 2; i < end; i++) {
        c = b[i]!;
        let x: number;
        if (c >= 48 && c <= 57) x = c - 48;
        else if ((c | 32) >= 97 && (c | 32) <= 102) x = (c | 32) - 87;
        else break;
        v = v * 16 + x;
        digits++;
      }
      if (digits === 0 || digits > 16) ok = false;
    } else {
      for (; i < end; i++) {
        c = b[i]!;
        if (c < 48 || c > 57) break;
        v = v * 10 + (c - 48);
        digits++;
      }
      if (digits === 0 || digits > 20) ok = false;
    }
    // The token runs on to the next separator; anything more makes it not an address.
    while (i < end) {
      c = b[i]!;
      if (isSeparator(c) || c === 35) break;
      ok = false;
      i++;
    }
    if (ok && v <= Number.MAX_SAFE_INTEGER) emit(v, "");
    else {
      const text = TEXT.decode(b.subarray(s, i));
      emit(ok ? parseAddress(text).value : undefined, text);
    }
  }
}
