import { Hono } from "hono";
import { AppError } from "../errors";
import { apiDocs } from "../http/api-docs";
import type { AppEnv } from "../http/app-env";
import { ok } from "../http/envelope";

type Check = { status: "pass" | "fail"; error?: string };

async function check(probe: () => Promise<unknown>): Promise<Check> {
  try {
    await probe();
    return { status: "pass" };
  } catch (error) {
    return { status: "fail", error: error instanceof Error ? error.name : "error" };
  }
}

/** Liveness of what every ceremony needs: D1 and the ChallengeStore Durable Object binding. */
export const healthRoutes = new Hono<AppEnv>().get("/", apiDocs.health, async (c) => {
  const [database, challengeStore] = await Promise.all([
    check(() => c.env.DB.prepare("SELECT 1").first()),
    check(() => c.env.CHALLENGES.get(c.env.CHALLENGES.idFromName("health-check")).ping()),
  ]);
  const checks = { database, challengeStore };
  if (database.status === "fail" || challengeStore.status === "fail") {
    throw new AppError("SERVICE_UNAVAILABLE", undefined, { details: { status: "unhealthy", checks } });
  }
  return ok(c, { status: "healthy", checks });
});
