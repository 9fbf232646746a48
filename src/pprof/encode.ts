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
  const sub = new WireReader(buf, 0, 0, "");
  const ranges = new RangeList();
  let runStart = 0;
  const nLoc = idx.locField.length;
  const nMap = idx.mapField.length;
  let loc = nextRewrite(plan.locNewStart, 0, nLoc);
  let map = nextMapping(plan.mappingFlags, 0, nMap);
  const fns = plan.lineFunc.data;
  const lns = plan.lineNo.data;

  // Jump from one rewritten field to the next (pass 1 recorded where they are); everything in
  // between is copied as is.
  while (loc < nLoc || map < nMap) {
    const locAt = loc < nLoc ? idx.locField.get(loc) : Number.POSITIVE_INFINITY;
    const mapAt = map < nMap ? idx.mapField[map]! : Number.POSITIVE_INFINITY;
    if (locAt < mapAt) {
      const end = idx.locEnd.get(loc);
      w.copy(buf, runStart, locAt);
      runStart = end;
      // Keep every field but the old lines.
      const ks = idx.locKeptStart.get(loc);
      if (ks >= 0) {
        ranges.length = 0;
        ranges.add(ks, idx.locKeptEnd.get(loc));
      } else {
        sub.pos = locAt;
        sub.end = end;
        sub.what = "location";
        sub.tag();
        const s = sub.lenStart("location");
        keptRanges(sub, s, end, "location", F.location.line, F.location.line, ranges);
      }
      const first = plan.locNewStart.get(loc);
      const count = plan.locNewCount.get(loc);
      let size = ranges.size();
      for (let i = first; i < first + count; i++) size += 2 + lineSize(fns[i]!, lns[i]!);
      w.key(F.profile.location, WT_LEN);
      w.varint(size);
      ranges.copyTo(w, buf);
      for (let i = first; i < first + count; i++) w.lineField(F.location.line, fns[i]!, lns[i]!);
      loc = nextRewrite(plan.locNewStart, loc + 1, nLoc);
    } else {
      const flags = plan.mappingFlags[map]!;
      const end = idx.mapEnd[map]!;
      w.copy(buf, runStart, mapAt);
      runStart = end;
      sub.pos = mapAt;
      sub.end = end;
      sub.what = "mapping";
      sub.tag();
      const s = sub.lenStart("mapping");
      keptRanges(sub, s, end, "mapping", F.mapping.hasFunctions, F.mapping.hasInlineFrames, ranges);
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
      map = nextMapping(plan.mappingFlags, map + 1, nMap);
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

function nextRewrite(starts: NumColumn, from: number, n: number): number {
  const d = starts.data;
  let i = from;
  while (i < n && d[i]! < 0) i++;
  return i;
}

function nextMapping(flags: (MappingFlags | undefined)[], from: number, n: number): number {
  let i = from;
  while (i < n && flags[i] === undefined) i++;
  return i;
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
