/** `npm run fixtures`: download every npm-shipped fixture binary into .cache/fixtures (integrity-checked). */
import { npmFixture, npmFixtureList } from "../test/support/fixtures.js";

for (const f of npmFixtureList()) {
  const t = Date.now();
  const p = npmFixture(f.name);
  console.log(`${f.name.padEnd(34)} ${f.package}@${f.version} -> ${p} (${Date.now() - t} ms)`);
}
