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
