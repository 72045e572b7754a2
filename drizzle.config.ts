import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { defineConfig } from "drizzle-kit";

// `npm run db:generate` writes SQL migrations to migrations/ from src/db/schema.ts; wrangler
// applies them (`wrangler d1 migrations apply DB --local|--remote`). The connection below is
// only for `drizzle-kit studio`: remote D1 over HTTP when CLOUDFLARE_D1_DATABASE_ID is set,
// otherwise the local database that `npm run dev` uses.
const localD1 = ".wrangler/state/v3/d1/miniflare-D1DatabaseObject";
const localFile = existsSync(localD1) ? readdirSync(localD1).find((name) => name.endsWith(".sqlite")) : undefined;

const connection = process.env.CLOUDFLARE_D1_DATABASE_ID
  ? {
      driver: "d1-http" as const,
      dbCredentials: {
        accountId: process.env.CLOUDFLARE_ACCOUNT_ID ?? "",
        databaseId: process.env.CLOUDFLARE_D1_DATABASE_ID,
        token: process.env.CLOUDFLARE_D1_TOKEN ?? "",
      },
    }
  : localFile
    ? { dbCredentials: { url: join(localD1, localFile) } }
    : {};

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./migrations",
  ...connection,
});
