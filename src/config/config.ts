import { z } from "zod";
import { AppError } from "../errors";

const positiveInt = (min: number, max: number) => {
  const range = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ error: range }).int(range).min(min, range).max(max, range);
};
const commaList = z.string().transform((value) =>
  value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0),
);
/** A secret (the `[secrets]` of wrangler.toml): its value is never printed (`secretNames`). */
const secretMeta = { secret: true } as const;
const secret = (description: string) =>
  z
    .string({ error: `missing secret (${description})` })
    .min(1, `missing secret (${description})`)
    .meta(secretMeta);

/**
 * Local development only: any port of http://localhost, so a second `npm run dev` (wrangler moves
 * to the next free port) or `--port N` works unchanged. Accepted only while RP_ID is "localhost"
 * (parseConfig refuses it otherwise), and browsers only issue passkeys for RP ID "localhost" on
 * localhost pages, so it can widen nothing on a deployed server (src/ceremonies/origin-policy.ts).
 */
export const anyLocalhostPort = "http://localhost:*";

function isExactOrigin(value: string): boolean {
  if (value.startsWith("android:apk-key-hash:")) return value.length > "android:apk-key-hash:".length;
  try {
    const url = new URL(value);
    return (url.protocol === "https:" || url.protocol === "http:") && url.origin === value;
  } catch {
    return false;
  }
}

const origin = z.string().refine(isExactOrigin, {
  message: "each origin must look like https://example.com (no path, no trailing slash) or android:apk-key-hash:...",
});
const rpOrigin = z.string().refine((value) => value === anyLocalhostPort || isExactOrigin(value), {
  message: `each origin must look like https://example.com (no path, no trailing slash), android:apk-key-hash:... or, with RP_ID localhost, ${anyLocalhostPort}`,
});

const aaguid = z
  .string()
  .transform((value) => value.toLowerCase())
  .pipe(
    z
      .string()
      .regex(
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
        "each AAGUID must look like 01234567-89ab-cdef-0123-456789abcdef",
      ),
  );

export const userVerificationLevels = ["discouraged", "preferred", "required"] as const;
export type UserVerificationLevel = (typeof userVerificationLevels)[number];

/**
 * The settings as the Worker's vars and secrets name them. The schema below maps them to
 * `Config`, whose type is inferred from it: a new setting is added here and in `toConfig`.
 */
const settingsSchema = z.object({
  RP_ID: z
    .string()
    .min(1)
    .regex(/^[a-z0-9.-]+$/, "must be a bare domain such as example.com (no scheme, no port)"),
  RP_NAME: z.string().min(1).max(64),
  RP_ORIGINS: commaList.pipe(z.array(rpOrigin).min(1, "at least one origin is required")),
  // Top-level pages allowed to embed the sign-in page in a cross-origin iframe; empty: none.
  RP_TOP_ORIGINS: commaList.pipe(z.array(origin)).default([]),
  CHALLENGE_TTL_SECONDS: positiveInt(30, 3600),
  MAX_CREDENTIALS_PER_USER: positiveInt(1, 100),
  USER_VERIFICATION: z.enum(userVerificationLevels),
  ATTESTATION: z.enum(["none", "direct", "enterprise"]),
  RATE_LIMIT_REQUESTS: positiveInt(1, 1_000_000),
  RATE_LIMIT_WINDOW_SECONDS: positiveInt(1, 86_400),
  RATE_LIMIT_VERIFY_REQUESTS: positiveInt(1, 1_000_000),
  RATE_LIMIT_ON_ERROR: z.enum(["closed", "open"]),
  RATE_LIMIT_IPV6_48_FACTOR: positiveInt(1, 65_536).default(16),
  CORS_ORIGINS: commaList.pipe(z.array(origin)),
  HSTS_MAX_AGE: z.coerce
    .number({ error: "must be a whole number of seconds, 0 or more" })
    .int("must be a whole number of seconds, 0 or more")
    .min(0, "must be a whole number of seconds, 0 or more"),
  SESSION_TTL_SECONDS: positiveInt(60, 86_400),
  REAUTHENTICATION_WINDOW_SECONDS: positiveInt(30, 86_400).default(300),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]),
  // FIDO conformance binding (/attestation/*, /assertion/*): a test surface, off unless "true".
  CONFORMANCE_API: z.enum(["true", "false"]).default("false"),
  ATTESTATION_TRUST: z.enum(["none", "mds"]).default("none"),
  // The API reference page at /api/v1/docs: on for `npm run dev`, off unless "true".
  API_DOCS: z.enum(["true", "false"]).default("false"),
  // Prometheus metrics (/api/v1/admin/metrics, docs/observability.md), read back from the
  // Analytics Engine dataset through its SQL API: the dataset's name, the window they cover,
  // and the account and API token (Account Analytics: Read) the SQL API takes. All optional.
  ANALYTICS_DATASET: z
    .string()
    .regex(/^[A-Za-z0-9_]{1,64}$/, "must be a dataset name (letters, digits, underscores)")
    .default("passkey_events"),
  METRICS_WINDOW_SECONDS: positiveInt(60, 90 * 86_400).default(3600),
  CF_ACCOUNT_ID: z
    .string()
    .default("")
    .refine((value) => value === "" || /^[0-9a-f]{32}$/.test(value), "must be a 32-character hex account id, or unset"),
  ANALYTICS_API_TOKEN: z.string().default("").meta(secretMeta),
  // PEM or base64 DER; empty means the FIDO Alliance's production MDS root bundled with SimpleWebAuthn.
  MDS_ROOT_CERT: z.string().default(""),
  // Where the cron trigger fetches the FIDO MDS BLOB from (https); empty: no scheduled refresh.
  MDS_URL: z
    .union([z.literal(""), z.url({ protocol: /^https$/, error: "must be an https:// URL, or empty" })])
    .default(""),
  AAGUID_ALLOWLIST: commaList.pipe(z.array(aaguid)).default([]),
  AAGUID_DENYLIST: commaList.pipe(z.array(aaguid)).default([]),
  CREDENTIAL_ENCRYPTION_KEY: secret("comma list of kid:base64url AES-256 keys, newest first"),
  CREDENTIAL_ID_HMAC_KEY: secret("base64url, at least 32 bytes; during a rotation: current,previous"),
  SESSION_SIGNING_KEY: secret("ES256 private key as JWK JSON"),
  // Optional: without it the admin API (/api/v1/admin/*) refuses everyone (docs/api-management.md).
  ADMIN_API_KEY: z
    .string()
    .default("")
    .refine((value) => value === "" || value.length >= 32, "must be at least 32 characters, or unset")
    .meta(secretMeta),
});

type Settings = z.output<typeof settingsSchema>;

/** Rules between settings; each problem names the variable to change. */
function checkCombinations(v: Settings, ctx: z.RefinementCtx): void {
  // Without metadata roots no AAGUID is ever proven, so an allow list would refuse everyone.
  if (v.AAGUID_ALLOWLIST.length > 0 && v.ATTESTATION_TRUST !== "mds") {
    ctx.addIssue({
      code: "custom",
      path: ["AAGUID_ALLOWLIST"],
      message: 'needs ATTESTATION_TRUST = "mds" (only attested AAGUIDs can be allowed)',
    });
  }
  if (v.RP_ORIGINS.includes(anyLocalhostPort) && v.RP_ID !== "localhost") {
    ctx.addIssue({
      code: "custom",
      path: ["RP_ORIGINS"],
      message: `${anyLocalhostPort} is for local development only and needs RP_ID = "localhost"; list each origin exactly (e.g. https://example.com)`,
    });
  }
}

/** The checked settings in the shape the code reads. */
function toConfig(v: Settings) {
  return {
    rpId: v.RP_ID,
    rpName: v.RP_NAME,
    /** Exact origins from RP_ORIGINS (web and android:apk-key-hash:…), the wildcard left out. */
    origins: v.RP_ORIGINS.filter((origin) => origin !== anyLocalhostPort),
    /**
     * Top-level origins whose cross-origin iframes may run ceremonies (clientData `topOrigin`).
     * Empty (the default): a ceremony in a cross-origin iframe is refused.
     */
    topOrigins: v.RP_TOP_ORIGINS,
    /** RP_ORIGINS lists http://localhost:* (only possible with RP_ID "localhost"): any port of http://localhost. */
    anyLocalhostPort: v.RP_ORIGINS.includes(anyLocalhostPort),
    challengeTtlSeconds: v.CHALLENGE_TTL_SECONDS,
    maxCredentialsPerUser: v.MAX_CREDENTIALS_PER_USER,
    userVerification: v.USER_VERIFICATION,
    attestation: v.ATTESTATION,
    rateLimit: {
      requests: v.RATE_LIMIT_REQUESTS,
      windowSeconds: v.RATE_LIMIT_WINDOW_SECONDS,
      /** Stricter budget for the verify steps, where each request costs signature checks. */
      verifyRequests: v.RATE_LIMIT_VERIFY_REQUESTS,
      /** What a limiter fault does: refuse the request ("closed") or let it through ("open"). */
      onError: v.RATE_LIMIT_ON_ERROR,
      /** An IPv6 /48 as a whole gets this many times a /64's budget. */
      ipv6NetworkFactor: v.RATE_LIMIT_IPV6_48_FACTOR,
    },
    corsOrigins: v.CORS_ORIGINS,
    hstsMaxAge: v.HSTS_MAX_AGE,
    sessionTtlSeconds: v.SESSION_TTL_SECONDS,
    /** How recent a verified sign-in must be to add or remove a passkey or delete the account. */
    reauthenticationWindowSeconds: v.REAUTHENTICATION_WINDOW_SECONDS,
    logLevel: v.LOG_LEVEL,
    /** FIDO conformance binding mounted (a test surface: never in production). */
    conformanceApi: v.CONFORMANCE_API === "true",
    /** The API reference page (/api/v1/docs) is served. */
    apiDocs: v.API_DOCS === "true",
    /** Prometheus metrics from the Analytics Engine SQL API; account and token null when not configured. */
    metrics: {
      dataset: v.ANALYTICS_DATASET,
      windowSeconds: v.METRICS_WINDOW_SECONDS,
      accountId: v.CF_ACCOUNT_ID === "" ? null : v.CF_ACCOUNT_ID,
      apiToken: v.ANALYTICS_API_TOKEN === "" ? null : v.ANALYTICS_API_TOKEN,
    },
    attestationTrust: {
      /** "none": any attestation is accepted; "mds": certificate chains must lead to FIDO metadata roots. */
      policy: v.ATTESTATION_TRUST,
      /** Root the metadata BLOB must chain to (PEM); null means the FIDO Alliance production root. */
      mdsRootCertificate: v.MDS_ROOT_CERT.trim() === "" ? null : v.MDS_ROOT_CERT.trim(),
      /** The FIDO MDS BLOB's URL, refreshed by the cron trigger; null: loaded by an operator only. */
      mdsUrl: v.MDS_URL === "" ? null : v.MDS_URL,
      /** When non-empty, only these attested AAGUIDs may register. */
      aaguidAllowlist: v.AAGUID_ALLOWLIST,
      /** AAGUIDs that may never register, attested or not. */
      aaguidDenylist: v.AAGUID_DENYLIST,
    },
    secrets: {
      credentialEncryptionKey: v.CREDENTIAL_ENCRYPTION_KEY,
      credentialIdHmacKey: v.CREDENTIAL_ID_HMAC_KEY,
      sessionSigningKey: v.SESSION_SIGNING_KEY,
      /** Bearer key of the admin API; null turns the admin API off (every call is refused). */
      adminApiKey: v.ADMIN_API_KEY === "" ? null : v.ADMIN_API_KEY,
    },
  };
}

/**
 * Vars and secrets in, `Config` out: one schema, so the type cannot drift from the parsing. The
 * rules between settings run only once every setting is valid on its own (a transform runs only
 * on a clean parse), so a problem is never reported about a value that is itself wrong.
 */
const configSchema = settingsSchema.transform((settings, ctx) => {
  checkCombinations(settings, ctx);
  return toConfig(settings);
});

export type Config = z.output<typeof configSchema>;

/**
 * A bad configuration, as the one error type: CONFIGURATION_ERROR (500) naming the variables
 * in `details.variables`. Messages name variables and what is wrong, never a value.
 */
export function configurationError(variables: string[], message: string, cause?: unknown): AppError {
  return new AppError("CONFIGURATION_ERROR", `Invalid configuration: ${message}`, { details: { variables }, cause });
}

/** The names of the settings this server reads (vars and secrets). */
export const settingNames: readonly string[] = Object.keys(settingsSchema.shape);
/** Settings whose values are never printed (the `[secrets]` of wrangler.toml), marked in the schema. */
export const secretNames: readonly string[] = Object.entries(settingsSchema.shape)
  .filter(([, schema]) => schema.meta()?.secret === true)
  .map(([name]) => name);

/** One bad setting: the variable and what is wrong or allowed (never its value). */
export type ConfigProblem = { variable: string; message: string };

/**
 * Checks the Worker's vars and secrets: the configuration, or every problem found. The Worker
 * (parseConfig) and `npm run dev`'s check before wrangler starts (scripts/check-config.ts) both
 * use it, so a setting is judged the same way in both places.
 */
export function checkSettings(
  env: Record<string, unknown>,
): { ok: true; config: Config } | { ok: false; problems: ConfigProblem[] } {
  const result = configSchema.safeParse(env);
  if (result.success) return { ok: true, config: result.data };
  const problems = result.error.issues.map((issue) => ({
    variable: String(issue.path[0] ?? "?"),
    // Secrets' values never appear in the message: only their name and what was wrong.
    message: issue.message,
  }));
  return { ok: false, problems };
}

/** Parses the Worker's vars and secrets; throws a CONFIGURATION_ERROR naming every bad variable. */
export function parseConfig(env: Record<string, unknown>): Config {
  const checked = checkSettings(env);
  if (!checked.ok) {
    const variables = [...new Set(checked.problems.map((p) => p.variable))];
    throw configurationError(variables, checked.problems.map((p) => `${p.variable}: ${p.message}`).join("; "));
  }
  return checked.config;
}
