/**
 * Go's string quoting rules (strconv.Unquote / strconv.QuotedPrefix), for the strings the Go
 * toolchain writes quoted into binaries: the Go build ID (`\xff Go build ID: "<quoted>"`) and the
 * keys/values of buildinfo `build` lines. Written from the Go language spec's escape rules.
 */

const utf8 = new TextDecoder("utf-8", { fatal: false });

function pushUtf8(out: number[], cp: number): void {
  if (cp < 0x80) out.push(cp);
  else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
  else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/**
 * Decodes one escape or character of a quoted literal starting at s[i] (s[i] is not the closing
 * quote). Appends the bytes to `out` and returns the index after it, or -1 on bad syntax.
 */
function unquoteChar(s: string, i: number, quote: number, out: number[]): number {
  const c = s.charCodeAt(i);
  if (c === quote && quote !== 0x60) return -1;
  if (c !== 0x5c) {
    if (c === 0x0a) return -1; // a raw newline ends an interpreted literal
    const cp = s.codePointAt(i)!;
    pushUtf8(out, cp);
    return i + (cp > 0xffff ? 2 : 1);
  }
  if (i + 1 >= s.length) return -1;
  const e = s.charCodeAt(i + 1);
  switch (e) {
    case 0x61: // \a
      out.push(7);
      return i + 2;
    case 0x62: // \b
      out.push(8);
      return i + 2;
    case 0x66: // \f
      out.push(12);
      return i + 2;
    case 0x6e: // \n
      out.push(10);
      return i + 2;
    case 0x72: // \r
      out.push(13);
      return i + 2;
    case 0x74: // \t
      out.push(9);
      return i + 2;
    case 0x76: // \v
      out.push(11);
      return i + 2;
    case 0x5c: // \\
      out.push(0x5c);
      return i + 2;
    case 0x27: // \' only inside '...'
    case 0x22: // \" only inside "..."
      if (e !== quote) return -1;
      out.push(e);
      return i + 2;
    case 0x78: // \xHH
    case 0x75: // \uHHHH
    case 0x55: {
      // \UHHHHHHHH
      const n = e === 0x78 ? 2 : e === 0x75 ? 4 : 8;
      if (i + 2 + n > s.length) return -1;
      let v = 0;
      for (let k = 0; k < n; k++) {
        const h = hexVal(s.charCodeAt(i + 2 + k));
        if (h < 0) return -1;
        v = v * 16 + h;
      }
      if (e === 0x78) out.push(v);
      else {
        if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000)) return -1;
        pushUtf8(out, v);
      }
      return i + 2 + n;
    }
    default: {
      // \ooo octal, value <= 255
      if (e >= 0x30 && e <= 0x37) {
        if (i + 4 > s.length) return -1;
        let v = 0;
        for (let k = 1; k <= 3; k++) {
          const d = s.charCodeAt(i + k) - 0x30;
          if (d < 0 || d > 7) return -1;
          v = v * 8 + d;
        }
        if (v > 255) return -1;
        out.push(v);
        return i + 4;
      }
      return -1;
    }
  }
}

/**
 * strconv.Unquote: `s` is a whole double-quoted, back-quoted or single-quoted Go literal. Returns
 * the value, or undefined when the syntax is invalid. Bytes from \x/octal escapes that do not form
 * valid UTF-8 decode to U+FFFD.
 */
export function goUnquote(s: string): string | undefined {
  if (s.length < 2) return undefined;
  const q = s.charCodeAt(0);
  if (q !== s.charCodeAt(s.length - 1)) return undefined;
  const body = s.slice(1, -1);
  if (q === 0x60) {
    if (body.includes("`")) return undefined;
    return body.includes("\r") ? body.replaceAll("\r", "") : body;
  }
  if (q !== 0x22 && q !== 0x27) return undefined;
  if (q === 0x22 && !body.includes("\\") && !body.includes('"') && !body.includes("\n")) return body;
  const out: number[] = [];
  let i = 0;
  let chars = 0;
  while (i < body.length) {
    i = unquoteChar(body, i, q, out);
    if (i < 0) return undefined;
    chars++;
  }
  if (q === 0x27 && chars !== 1) return undefined;
  return utf8.decode(Uint8Array.from(out));
}

/**
 * strconv.QuotedPrefix: the quoted literal at the start of `s` (including its quotes), or undefined
 * when `s` does not start with a valid one.
 */
export function goQuotedPrefix(s: string): string | undefined {
  const q = s.charCodeAt(0);
  if (q === 0x60) {
    const end = s.indexOf("`", 1);
    return end < 0 ? undefined : s.slice(0, end + 1);
  }
  if (q !== 0x22 && q !== 0x27) return undefined;
  const out: number[] = [];
  let i = 1;
  while (i < s.length) {
    if (s.charCodeAt(i) === q) {
      const lit = s.slice(0, i + 1);
      return goUnquote(lit) === undefined ? undefined : lit;
    }
    i = unquoteChar(s, i, q, out);
    if (i < 0) return undefined;
  }
  return undefined;
}

const printable = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/**
 * strconv.Quote for valid UTF-8 strings: the double-quoted Go literal, with \a \b \f \n \r \t \v
 * \\ \" escapes, \xHH for other control bytes and DEL, \u/\U for other non-printable runes.
 */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    switch (cp) {
      case 0x07:
        out += "\\a";
        continue;
      case 0x08:
        out += "\\b";
        continue;
      case 0x0c:
        out += "\\f";
        continue;
      case 0x0a:
        out += "\\n";
        continue;
      case 0x0d:
        out += "\\r";
        continue;
      case 0x09:
        out += "\\t";
        continue;
      case 0x0b:
        out += "\\v";
        continue;
      case 0x5c:
        out += "\\\\";
        continue;
      case 0x22:
        out += '\\"';
        continue;
    }
    if (printable.test(ch)) out += ch;
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, "0")}`;
    else out += `\\U${cp.toString(16).padStart(8, "0")}`;
  }
  return `${out}"`;
}
