import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../src/db/database";
import { MetadataRepository, type NewMetadataEntry } from "../src/db/metadata-repository";

// The storage rule behind "a BLOB source only ever moves to a higher number", at the repository:
// a load that lost to a newer one (two loads at once) writes nothing at all.
const repository = new MetadataRepository(openDatabase(env.DB));
let count = 0;
const uniqueSource = () => `repository-${Date.now().toString(36)}-${(count++).toString(36)}`;

function entriesNamed(label: string, howMany: number): NewMetadataEntry[] {
  return Array.from({ length: howMany }, (_, i) => ({
    keys: [`aaguid:${label}-${i}`],
    statement: { description: `${label} ${i}` },
    statusReports: [{ status: "FIDO_CERTIFIED" }],
    icon: null,
  }));
}

/** The source's entries found by a key (other tests' sources use the same keys). */
async function entriesOf(name: string, key: string) {
  return (await repository.findEntries(key)).filter((entry) => entry.source === name);
}

async function stored(name: string) {
  return {
    source: await repository.source(name),
    newEntries: await entriesOf(name, "aaguid:new-0"),
    oldEntries: await entriesOf(name, "aaguid:old-0"),
  };
}

describe("replacing a metadata source", () => {
  it("writes a BLOB with a higher number: the source row and every entry (more than one insert's worth)", async () => {
    const name = uniqueSource();
    const blob = { name, kind: "blob" as const, nextUpdate: "2099-01-01", checkedAt: null };
    expect(await repository.replaceSource({ ...blob, no: 5 }, entriesNamed("old", 45), new Date())).toBe(true);
    expect(await repository.replaceSource({ ...blob, no: 6 }, entriesNamed("new", 45), new Date())).toBe(true);
    const now = await stored(name);
    expect(now.source).toMatchObject({ no: 6, entryCount: 45 });
    expect(now.newEntries).toHaveLength(1);
    expect(now.oldEntries).toHaveLength(0);
    expect(await entriesOf(name, "aaguid:new-44")).toHaveLength(1);
  });

  it.each([
    ["the same number", 7],
    ["a lower number", 6],
  ])("writes nothing for a BLOB with %s than the stored one, and says so", async (_case, no) => {
    const name = uniqueSource();
    const blob = { name, kind: "blob" as const, nextUpdate: "2099-01-01", checkedAt: null };
    const loadedAt = new Date(Date.now() - 60_000);
    expect(await repository.replaceSource({ ...blob, no: 7 }, entriesNamed("old", 30), loadedAt)).toBe(true);
    expect(await repository.replaceSource({ ...blob, no }, entriesNamed("new", 3), new Date())).toBe(false);
    const now = await stored(name);
    expect(now.source).toMatchObject({ no: 7, entryCount: 30, loadedAt });
    expect(now.oldEntries).toHaveLength(1);
    expect(now.newEntries).toHaveLength(0);
    expect(await entriesOf(name, "aaguid:old-29")).toHaveLength(1);
  });

  it("always replaces loose statements (number 0)", async () => {
    const name = uniqueSource();
    const statements = { name, kind: "statements" as const, no: 0, nextUpdate: null, checkedAt: null };
    expect(await repository.replaceSource(statements, entriesNamed("old", 2), new Date())).toBe(true);
    expect(await repository.replaceSource(statements, entriesNamed("new", 1), new Date())).toBe(true);
    const now = await stored(name);
    expect(now.source).toMatchObject({ kind: "statements", entryCount: 1 });
    expect(now.newEntries).toHaveLength(1);
    expect(now.oldEntries).toHaveLength(0);
  });
});
