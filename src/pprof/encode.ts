/**
 * Pass 2: writes the symbolized profile. Every top-level field is copied through byte for byte
 * (samples, sample types, labels, unknown fields...) except the locations that got new lines and
 * the mappings whose flags change; those are re-encoded from their original fields minus the
 * replaced ones. New functions and new strings are appended at the end (repeated fields
 * concatenate, so existing string indices and ids stay valid).
 *
 * The output is produced lazily as a sequence of chunks: views of long unchanged runs of the
 * input plus 1 MiB blocks of rewritten bytes, so memory stays proportional to the input.
 */
import type { NumColumn, ProfileIndex } from "./decode.js";
import { F } from "./decode.js";
import { ChunkWriter, varintSize, WireReader, WT_LEN, WT_VARINT } from "./wire.js";

export interface MappingFlags {
  hasFunctions: boolean;
  hasFilenames: boolean;
  hasLineNumbers: boolean;
  hasInlineFrames: boolean;
}

/** What pass 2 changes. */
export interface EncodePlan {
  /** Per location (wire order): first new line in lineFunc/lineNo, or -1 to keep it as is. */
  locNewStart: NumColumn;
  locNewCount: NumColumn;
  lineFunc: NumColumn;
  lineNo: NumColumn;
  /** Per mapping (wire order): new flags, or undefined to keep it as is. */
  mappingFlags: (MappingFlags | undefined)[];
  /** Functions to append. */
  newFuncId: NumColumn;
  newFuncName: NumColumn;
  newFuncFile: NumColumn;
  newFuncStartLine: NumColumn;
  /** Strings to append (their indices continue the input's table), as text or UTF-8 bytes. */
  newStrings: (string | Uint8Array)[];
}

/** Encoded size of a Line body (always < 128, so its length prefix is one byte). */
function lineSize(fn: number, line: number): number {
  let n = 1 + varintSize(fn);
  if (line !== 0) n += 1 + varintSize(line);
  return n;
}

/** Uncompressed output chunks, in order. Chunks may be views into the input buffer. */
export function* encodeProfile(idx: ProfileIndex, plan: EncodePlan): Generator<Uint8Array> {
  const buf = idx.buf;
  const queue: Uint8Array[] = [];
  const w = new ChunkWriter((c) => queue.push(c));
  const r = new WireReader(buf, 0, buf.length, "profile");
  const sub = new WireReader(buf, 0, 0, "");
  const ranges = new RangeList();
  let runStart = 0;
  let loc = 0;
  let map = 0;

  while (r.pos < r.end) {
    const at = r.pos;
    const t = r.tag();
    const field = t >>> 3;
    const wt = t & 7;
    if (field === F.profile.location && wt === WT_LEN) {
      const s = r.lenStart("location");
      const first = plan.locNewStart.get(loc);
      const count = plan.locNewCount.get(loc);
      loc++;
      if (first < 0) continue;
      w.copy(buf, runStart, at);
      runStart = r.pos;
      // Keep every field but the old lines.
      keptRanges(sub, s, r.pos, "location", F.location.line, F.location.line, ranges);
      const fns = plan.lineFunc.data;
      const lns = plan.lineNo.data;
      let size = ranges.size();
      for (let i = first; i < first + count; i++) size += 2 + lineSize(fns[i]!, lns[i]!);
      w.key(F.profile.location, WT_LEN);
      w.varint(size);
      ranges.copyTo(w, buf);
      for (let i = first; i < first + count; i++) w.lineField(F.location.line, fns[i]!, lns[i]!);
    } else if (field === F.profile.mapping && wt === WT_LEN) {
      const s = r.lenStart("mapping");
      const flags = plan.mappingFlags[map];
      map++;
      if (flags === undefined) continue;
      w.copy(buf, runStart, at);
      runStart = r.pos;
      keptRanges(sub, s, r.pos, "mapping", F.mapping.hasFunctions, F.mapping.hasInlineFrames, ranges);
      const bits = [flags.hasFunctions, flags.hasFilenames, flags.hasLineNumbers, flags.hasInlineFrames];
      const size = ranges.size() + 2 * bits.filter(Boolean).length;
      w.key(F.profile.mapping, WT_LEN);
      w.varint(size);
      ranges.copyTo(w, buf);
      bits.forEach((b, i) => {
        if (b) {
          w.key(F.mapping.hasFunctions + i, WT_VARINT);
          w.varint(1);
        }
      });
    } else {
      r.skip(wt, `field ${field}`);
      continue;
    }
    if (queue.length > 0) yield* queue.splice(0);
  }
  w.copy(buf, runStart, buf.length);

  for (let i = 0; i < plan.newFuncId.length; i++) {
    const id = plan.newFuncId.get(i);
    const name = plan.newFuncName.get(i);
    const file = plan.newFuncFile.get(i);
    const startLine = plan.newFuncStartLine.get(i);
    const size =
      1 +
      varintSize(id) +
      (name !== 0 ? 2 * (1 + varintSize(name)) : 0) +
      (file !== 0 ? 1 + varintSize(file) : 0) +
      (startLine !== 0 ? 1 + varintSize(startLine) : 0);
    w.key(F.profile.function, WT_LEN);
    w.varint(size);
    w.key(F.function.id, WT_VARINT);
    w.varint(id);
    w.varintField(F.function.name, name);
    w.varintField(F.function.systemName, name);
    w.varintField(F.function.filename, file);
    w.varintField(F.function.startLine, startLine);
    if (queue.length > 0) yield* queue.splice(0);
  }
  for (const s of plan.newStrings) {
    if (typeof s === "string") w.stringField(F.profile.stringTable, s);
    else w.bytesField(F.profile.stringTable, s);
    if (queue.length > 0) yield* queue.splice(0);
  }
  w.flush();
  yield* queue.splice(0);
}

/** [start, end) pairs, reused across messages. */
class RangeList {
  data = new Int32Array(64);
  length = 0;
  add(start: number, end: number): void {
    const n = this.length;
    if (n > 0 && this.data[n - 1] === start) {
      this.data[n - 1] = end; // contiguous with the previous range
      return;
    }
    if (n + 2 > this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[n] = start;
    this.data[n + 1] = end;
    this.length = n + 2;
  }
  size(): number {
    let t = 0;
    for (let i = 0; i < this.length; i += 2) t += this.data[i + 1]! - this.data[i]!;
    return t;
  }
  copyTo(w: ChunkWriter, buf: Uint8Array): void {
    for (let i = 0; i < this.length; i += 2) w.copy(buf, this.data[i]!, this.data[i + 1]!);
  }
}

/** Fills `out` with the byte ranges of the message's fields outside [dropFrom, dropTo]. */
function keptRanges(
  r: WireReader,
  start: number,
  end: number,
  what: string,
  dropFrom: number,
  dropTo: number,
  out: RangeList,
): void {
  out.length = 0;
  r.pos = start;
  r.end = end;
  r.what = what;
  while (r.pos < r.end) {
    const at = r.pos;
    const t = r.tag();
    const field = t >>> 3;
    if ((t & 7) === WT_VARINT) r.varint("field");
    else r.skip(t & 7, "field");
    if (field < dropFrom || field > dropTo) out.add(at, r.pos);
  }
}
