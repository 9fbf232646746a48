/**
 * Groups goroutines with identical stacks. One pass, one hash-map lookup per goroutine (keys are
 * built from the frames; cost is linear in the number of frames), so 100,000-goroutine dumps stay
 * fast. Similarity levels:
 *  - BUCKET_SIMILARITY_EXACT: same state, wait reason, functions, files, lines and argument text;
 *  - BUCKET_SIMILARITY_ANY_ARGS (default): the same without argument values;
 *  - BUCKET_SIMILARITY_FUNCTION: same state, wait reason and function names (lines may differ).
 * `created by` takes part in the key at every level (at FUNCTION only its name).
 */
import { normalizeFunction } from "./funcname.js";
import type { Bucket, BucketSimilarity, Goroutine, StackFrame } from "./types.js";

const SEP = "\u0000";

function frameKey(f: StackFrame, level: BucketSimilarity): string {
  switch (level) {
    case "BUCKET_SIMILARITY_EXACT":
      return `${f.function}(${f.args})${f.file}:${f.line}`;
    case "BUCKET_SIMILARITY_FUNCTION":
      return normalizeFunction(f.function);
    default:
      return `${f.function}${SEP}${f.file}:${f.line}`;
  }
}

export function goroutineKey(g: Goroutine, level: BucketSimilarity): string {
  let k = `${g.state}${SEP}${g.waitReason}${SEP}${g.lockedToThread ? "L" : ""}${g.stackUnavailable ? "U" : ""}`;
  for (const f of g.frames) k += SEP + frameKey(f, level);
  if (g.createdBy !== undefined)
    k += `${SEP}@${level === "BUCKET_SIMILARITY_FUNCTION" ? normalizeFunction(g.createdBy.function) : `${g.createdBy.function}${SEP}${g.createdBy.file}:${g.createdBy.line}`}`;
  return k;
}

/**
 * Buckets, largest first (ties: the bucket with the lowest goroutine id). Goroutines are taken in
 * id order, so the result does not depend on the order of the input (a text dump lists them in
 * allgs order, a core reader by id): each bucket's representative is its lowest id.
 */
export function bucketize(
  goroutines: Goroutine[],
  similarity: BucketSimilarity = "BUCKET_SIMILARITY_ANY_ARGS",
  maxIds = 10_000,
): Bucket[] {
  const byKey = new Map<string, Bucket>();
  const order: Bucket[] = [];
  const sorted = goroutines.slice().sort((a, b) => a.id - b.id);
  for (const g of sorted) {
    const key = goroutineKey(g, similarity);
    let b = byKey.get(key);
    if (b === undefined) {
      b = {
        count: 0,
        state: g.state,
        waitReason: g.waitReason,
        lockedToThread: g.lockedToThread,
        frames: g.frames,
        minWaitMinutes: g.waitMinutes,
        maxWaitMinutes: g.waitMinutes,
        ids: [],
        idsDropped: 0,
        crashed: false,
      };
      if (g.createdBy !== undefined) b.createdBy = g.createdBy;
      byKey.set(key, b);
      order.push(b);
    }
    b.count++;
    if (g.waitMinutes < b.minWaitMinutes) b.minWaitMinutes = g.waitMinutes;
    if (g.waitMinutes > b.maxWaitMinutes) b.maxWaitMinutes = g.waitMinutes;
    if (b.ids.length < maxIds) b.ids.push(g.id);
    else b.idsDropped++;
    if (g.crashed) b.crashed = true;
  }
  // Stable sort: equal counts keep lowest-id order.
  return order.sort((a, b) => b.count - a.count);
}
