import { defineConfig } from "drizzle-kit";

// `npm run db:generate` writes SQL migrations to migrations/; wrangler applies them
// (`wrangler d1 migrations apply DB --local|--remote`), so drizzle-kit needs no credentials
// to generate. The d1-http settings are only for `drizzle-kit studio` against remote D1.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./migrations",
  ...(process.env.CLOUDFLARE_D1_DATABASE_ID
    ? {
        driver: "d1-http",
        dbCredentials: {
          accountId: process.env.CLOUDFLARE_ACCOUNT_ID ?? "",
          databaseId: process.env.CLOUDFLARE_D1_DATABASE_ID,
          token: process.env.CLOUDFLARE_D1_TOKEN ?? "",
        },
      }
    : {}),
});
