/**
 * Known wrong answers of the engine found by the oracle tests, each with its reason and an exact
 * reproduction. The tests assert that every listed case still fails, so fixing the engine forces
 * removing the entry here (and an unlisted failure fails the test).
 */
import type { ExpectedFailure } from "./support.js";

export const EXPECTED_FAILURES: ExpectedFailure[] = [];
