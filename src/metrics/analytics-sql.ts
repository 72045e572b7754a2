import { z } from "zod";
import { AppError } from "../errors";

/**
 * The Workers Analytics Engine SQL API: POST the query as text with an API token that has
 * "Account Analytics: Read"; with `FORMAT JSON` it answers {meta, data, rows}
 * (https://developers.cloudflare.com/analytics/analytics-engine/sql-api/). It is the network,
 * not our code: tests stand in for it at `fetch`.
 */
export const sqlApiUrl = (accountId: string) =>
  `https://api.cloudflare.com/client/v4/accounts/${accountId}/analytics_engine/sql`;

// ClickHouse writes 64-bit integers as strings in JSON, other numbers as numbers: take either.
const numeric = z.union([
  z.number(),
  z
    .string()
    .regex(/^-?\d+(\.\d+)?(e[+-]?\d+)?$/i)
    .transform(Number),
]);
const cell = z.union([numeric, z.string(), z.null()]);

const jsonFormat = z.object({
  meta: z.array(z.object({ name: z.string(), type: z.string() })),
  data: z.array(z.record(z.string(), cell)),
  rows: z.number(),
});

export type SqlRow = Record<string, string | number | null>;

export type SqlApi = { accountId: string; apiToken: string; fetch: typeof fetch };

const QUERY_TIMEOUT_MS = 15_000;

/** Runs one SELECT (which must end in FORMAT JSON); an unusable answer is SERVICE_UNAVAILABLE naming why. */
export async function querySql(api: SqlApi, sql: string): Promise<SqlRow[]> {
  let response: Response;
  try {
    response = await api.fetch(sqlApiUrl(api.accountId), {
      method: "POST",
      headers: { authorization: `Bearer ${api.apiToken}`, "content-type": "text/plain" },
      body: sql,
      signal: AbortSignal.timeout(QUERY_TIMEOUT_MS),
    });
  } catch (error) {
    throw new AppError(
      "SERVICE_UNAVAILABLE",
      `The Analytics Engine SQL API could not be reached (${error instanceof Error ? error.name : "error"})`,
    );
  }
  if (!response.ok) {
    // The API answers errors as short text; 403 means the token or account id is wrong.
    const text = (await response.text().catch(() => "")).slice(0, 200);
    const hint =
      response.status === 403
        ? ": check CF_ACCOUNT_ID and that ANALYTICS_API_TOKEN has Account Analytics: Read"
        : text
          ? `: ${text}`
          : "";
    throw new AppError("SERVICE_UNAVAILABLE", `The Analytics Engine SQL API answered ${response.status}${hint}`);
  }
  const parsed = jsonFormat.safeParse(await response.json().catch(() => null));
  if (!parsed.success) {
    throw new AppError("SERVICE_UNAVAILABLE", "The Analytics Engine SQL API answered something other than FORMAT JSON");
  }
  return parsed.data.data;
}
