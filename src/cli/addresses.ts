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
  for (const line of text.split(/\r?\n/)) {
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

/**
 * Fast path of addressTokens + parseAddress for bulk input: calls `emit(value, token)` for every
 * token, with `value` a number when the address is below 2^53, a bigint above, and undefined when
 * the token is not an address. No regular expressions, no per-token allocation but the token
 * string itself on the slow paths.
 */
export function scanAddresses(
  text: string,
  emit: (value: number | bigint | undefined, text: string, start: number, end: number) => void,
): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    let c = text.charCodeAt(i);
    // separators: whitespace and commas; '#' comments run to the end of the line
    if (c === 32 || c === 10 || c === 13 || c === 9 || c === 44 || c === 11 || c === 12) {
      i++;
      continue;
    }
    if (c === 35) {
      while (i < n && text.charCodeAt(i) !== 10) i++;
      continue;
    }
    const start = i;
    while (i < n) {
      c = text.charCodeAt(i);
      if (c === 32 || c === 10 || c === 13 || c === 9 || c === 44 || c === 35 || c === 11 || c === 12) break;
      i++;
    }
    const end = i;
    let v = 0;
    let ok = true;
    const hex = end - start > 2 && text.charCodeAt(start) === 48 && (text.charCodeAt(start + 1) | 32) === 120;
    const digits = hex ? end - start - 2 : end - start;
    if (hex ? digits > 16 : digits > 20) ok = false;
    else if (hex) {
      for (let k = start + 2; k < end; k++) {
        const d = text.charCodeAt(k);
        let x: number;
        if (d >= 48 && d <= 57) x = d - 48;
        else if ((d | 32) >= 97 && (d | 32) <= 102) x = (d | 32) - 87;
        else {
          ok = false;
          break;
        }
        v = v * 16 + x;
      }
    } else {
      for (let k = start; k < end; k++) {
        const d = text.charCodeAt(k) - 48;
        if (d < 0 || d > 9) {
          ok = false;
          break;
        }
        v = v * 10 + d;
      }
    }
    if (!ok) emit(undefined, text.slice(start, end), start, end);
    else if (v <= Number.MAX_SAFE_INTEGER) emit(v, "", start, end);
    else emit(parseAddress(text.slice(start, end)).value, text.slice(start, end), start, end);
  }
}
