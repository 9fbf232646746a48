/**
 * Turns crash text as it reaches logs into the lines the Go runtime printed:
 *  - caps the input size and each line's length (reported, never thrown);
 *  - CRLF / CR line ends;
 *  - JSON log records (`{"log":"goroutine 1 [running]:\n",...}`, or a whole crash inside one JSON
 *    or quoted string with `\n`/`\t` escapes) are unpacked into their lines;
 *  - a log prefix on every line (timestamps, pod names, `stderr F`) is learned from the lines that
 *    carry a Go crash anchor (`goroutine N [`, `panic: `, ...) and stripped wherever its shape recurs.
 * Every output line remembers the physical input line it came from, for diagnostics.
 */
import type { CrashLimits } from "./limits.js";
import type { InputStats, ParseDiagnostic } from "./types.js";

export interface NormalizedInput {
  lines: string[];
  /** 1-based physical input line of each output line. */
  origin: Int32Array;
  stats: InputStats;
  diagnostics: ParseDiagnostic[];
}

/** Text that only Go crash output starts a line with (used to find log prefixes). */
const ANCHOR =
  /goroutine \d+ (?:gp=0x[0-9a-f]+ m=(?:\d+|nil) (?:mp=0x[0-9a-f]+ )?)?\[|panic: |fatal error: |\bSIG[A-Z0-9]+: |WARNING: DATA RACE|created by |runtime stack:|\[signal /;

/** Keys of structured log records whose value is the message, most likely first. */
const MESSAGE_KEYS = [
  "log",
  "msg",
  "message",
  "MESSAGE",
  "textPayload",
  "stack",
  "stacktrace",
  "stack_trace",
  "error",
  "err",
  "body",
];

export function excerpt(s: string): string {
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

export function normalizeInput(text: string, limits: CrashLimits): NormalizedInput {
  const diagnostics: ParseDiagnostic[] = [];
  const stats: InputStats = {
    inputBytes: Buffer.byteLength(text),
    lines: 0,
    inputTruncated: false,
    longLines: 0,
    prefixesStripped: 0,
    unescapedLines: 0,
  };
  if (text.length > limits.maxInputChars) {
    stats.inputTruncated = true;
    diagnostics.push({
      line: 0,
      reason: `input has ${text.length} characters; only the first ${limits.maxInputChars} were read`,
      excerpt: "",
    });
    text = text.slice(0, limits.maxInputChars);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);

  const physical = text.split(/\r\n|\r|\n/);
  if (physical.length > 0 && physical[physical.length - 1] === "") physical.pop();

  const lines: string[] = [];
  const origin: number[] = [];
  for (let i = 0; i < physical.length; i++) {
    if (lines.length >= limits.maxLines) {
      diagnostics.push({
        line: i + 1,
        reason: `more than ${limits.maxLines} lines; the rest was not read`,
        excerpt: "",
      });
      stats.inputTruncated = true;
      break;
    }
    let line = physical[i]!;
    if (line.length > limits.maxLineChars) {
      stats.longLines++;
      if (stats.longLines <= 10)
        diagnostics.push({
          line: i + 1,
          reason: `line has ${line.length} characters; cut to ${limits.maxLineChars}`,
          excerpt: excerpt(line),
        });
      line = line.slice(0, limits.maxLineChars);
    }
    const unpacked = unpackLine(line);
    if (unpacked !== undefined) {
      stats.unescapedLines++;
      for (const l of unpacked) {
        lines.push(l.length > limits.maxLineChars ? l.slice(0, limits.maxLineChars) : l);
        origin.push(i + 1);
      }
      continue;
    }
    lines.push(line);
    origin.push(i + 1);
  }

  stats.prefixesStripped = stripPrefixes(lines, limits);
  stats.lines = lines.length;
  return { lines, origin: Int32Array.from(origin), stats, diagnostics };
}

/**
 * A physical line that holds escaped text (a JSON record, or a quoted string with `\n` escapes)
 * becomes the lines of that text. Returns undefined when the line is plain text.
 */
function unpackLine(line: string): string[] | undefined {
  // Fast path: most lines start with a letter or a tab and hold no escapes.
  const c0 = line.charCodeAt(0);
  if (c0 === 0x09 || (c0 !== 0x7b && c0 !== 0x20 && !line.includes("\\"))) return undefined;
  if (line.includes("{")) {
    const t = line.trim();
    if (t.length >= 2 && t.charCodeAt(0) === 0x7b /* { */ && t.charCodeAt(t.length - 1) === 0x7d) {
      const msg = messageOfRecord(t);
      if (msg !== undefined) return splitDecoded(msg);
    }
  }
  if (line.includes("\\n") || line.includes("\\t")) {
    const lit = bestQuotedLiteral(line);
    if (lit !== undefined) {
      const decoded = decodeLiteral(lit);
      if (decoded !== undefined && (decoded.includes("\n") || decoded.includes("\t"))) {
        const out = splitDecoded(decoded);
        if (out.some((l) => ANCHOR.test(l) || /^\s+\S.*:\d+/.test(l))) return out;
      }
    }
  }
  return undefined;
}

function splitDecoded(s: string, depth = 0): string[] {
  // A JSON record inside the string (a record logged as a string of another record).
  const t = s.trim();
  if (depth < 3 && t.startsWith("{") && t.endsWith("}")) {
    const inner = messageOfRecord(t);
    if (inner !== undefined) return splitDecoded(inner, depth + 1);
  }
  // Doubly escaped text (an escaped crash inside a JSON string) decodes once more.
  if (!s.includes("\n") && s.includes("\\n") && ANCHOR.test(s)) {
    const again = decodeLiteral(`"${s.replace(/(?<!\\)"/g, '\\"')}"`);
    if (again !== undefined) s = again;
  }
  const out = s.split(/\r\n|\r|\n/);
  if (out.length > 1 && out[out.length - 1] === "") out.pop();
  return out;
}

function messageOfRecord(t: string): string | undefined {
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) return undefined;
  return pickMessage(v as Record<string, unknown>, 0);
}

function pickMessage(o: Record<string, unknown>, depth: number): string | undefined {
  for (const k of MESSAGE_KEYS) {
    const x = o[k];
    if (typeof x === "string") return x;
  }
  let best: string | undefined;
  let n = 0;
  for (const k in o) {
    if (++n > 256) break;
    const x = o[k];
    if (typeof x === "string") {
      if (best === undefined || x.length > best.length) best = x;
    } else if (depth < 3 && x !== null && typeof x === "object" && !Array.isArray(x)) {
      const inner = pickMessage(x as Record<string, unknown>, depth + 1);
      if (inner !== undefined && (best === undefined || inner.length > best.length)) best = inner;
    }
  }
  return best;
}

/** The double-quoted literal of the line with the most `\n` escapes (quotes included). */
function bestQuotedLiteral(line: string): string | undefined {
  let best: string | undefined;
  let bestEsc = 0;
  let i = 0;
  let steps = 0;
  while (i < line.length && steps++ < 10_000) {
    const start = line.indexOf('"', i);
    if (start < 0) break;
    let j = start + 1;
    let esc = 0;
    while (j < line.length) {
      const c = line.charCodeAt(j);
      if (c === 0x5c /* \ */) {
        if (line.charCodeAt(j + 1) === 0x6e /* n */) esc++;
        j += 2;
        continue;
      }
      if (c === 0x22) break;
      j++;
    }
    const end = Math.min(j, line.length - 1);
    if (esc > bestEsc) {
      bestEsc = esc;
      best = line.charCodeAt(end) === 0x22 ? line.slice(start, end + 1) : `${line.slice(start)}"`;
    }
    i = j + 1;
  }
  return best;
}

function decodeLiteral(lit: string): string | undefined {
  try {
    const v = JSON.parse(lit) as unknown;
    if (typeof v === "string") return v;
  } catch {
    // Not strict JSON (logfmt, truncated): decode the common escapes by hand.
  }
  const body = lit.startsWith('"') ? lit.slice(1, lit.endsWith('"') ? -1 : undefined) : lit;
  return body.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_m, e: string) => {
    switch (e[0]) {
      case "n":
        return "\n";
      case "t":
        return "\t";
      case "r":
        return "\r";
      case "u":
        return e.length === 5 ? String.fromCharCode(Number.parseInt(e.slice(1), 16)) : e;
      default:
        return e;
    }
  });
}

/**
 * Learns the shapes of the prefixes that precede crash anchors and strips every prefix of a
 * learned shape. A shape keeps punctuation and letter-only words literally and generalizes every
 * word containing a digit (timestamps, pids, hashes), so `2024-01-01T00:00:00.5Z stderr F ` and
 * `2024-01-01T00:00:01.25Z stderr F ` share one shape while a frame line never matches it.
 * Returns how many shapes were used.
 */
function stripPrefixes(lines: string[], limits: CrashLimits): number {
  const counts = new Map<string, number>();
  let scanned = 0;
  for (const line of lines) {
    const m = ANCHOR.exec(line);
    if (m === null || m.index === 0) continue;
    let prefix = line.slice(0, m.index);
    if (prefix.trim() === "" || prefix.length > 200) continue;
    prefix = prefix.replace(/\t+$/, "");
    if (prefix.trim() === "") continue;
    const shape = shapeOf(prefix);
    counts.set(shape, (counts.get(shape) ?? 0) + 1);
    if (++scanned > 100_000 || counts.size > 1000) break;
  }
  const shapes = [...counts.entries()]
    .filter(([, n]) => n >= 2)
    .sort((a, b) => b[1] - a[1])
    .slice(0, limits.maxPrefixShapes)
    .map(([s]) => new RegExp(`^${s}`));
  if (shapes.length === 0) return 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    for (const re of shapes) {
      const m = re.exec(line);
      if (m !== null) {
        lines[i] = line.slice(m[0].length);
        break;
      }
    }
  }
  return shapes.length;
}

function shapeOf(prefix: string): string {
  let out = "";
  const re = /[A-Za-z0-9_]+|[^A-Za-z0-9_]/g;
  for (const m of prefix.matchAll(re)) {
    const tok = m[0];
    if (/^[A-Za-z0-9_]+$/.test(tok)) {
      out += /\d/.test(tok) ? "[A-Za-z0-9_]+" : tok;
    } else {
      out += tok.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
    }
  }
  return out;
}
