import { describe, expect, it } from "vitest";
import { AppError } from "../errors";
import { anyLocalhostPort, checkSettings, parseConfig, secretNames, settingNames } from "./config";

/** wrangler.toml's [vars] as the Worker sees them, with placeholder secrets (never used as keys here). */
const env: Record<string, unknown> = {
  RP_ID: "localhost",
  RP_NAME: "Edge Passkey Server",
  RP_ORIGINS: "http://localhost:*",
  RP_TOP_ORIGINS: "",
  CHALLENGE_TTL_SECONDS: "300",
  MAX_CREDENTIALS_PER_USER: "10",
  USER_VERIFICATION: "preferred",
  ATTESTATION: "none",
  RATE_LIMIT_REQUESTS: "100",
  RATE_LIMIT_WINDOW_SECONDS: "60",
  RATE_LIMIT_VERIFY_REQUESTS: "30",
  RATE_LIMIT_ON_ERROR: "closed",
  CORS_ORIGINS: "http://localhost:8787",
  HSTS_MAX_AGE: "31536000",
  SESSION_TTL_SECONDS: "900",
  LOG_LEVEL: "info",
  CREDENTIAL_ENCRYPTION_KEY: "k1:placeholder",
  CREDENTIAL_ID_HMAC_KEY: "placeholder",
  SESSION_SIGNING_KEY: "{}",
};

function problemsOf(overrides: Record<string, unknown>) {
  const checked = checkSettings({ ...env, ...overrides });
  return checked.ok ? [] : checked.problems;
}

function configurationErrorOf(overrides: Record<string, unknown>): AppError {
  try {
    parseConfig({ ...env, ...overrides });
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error("parseConfig accepted the settings");
}

describe("parseConfig", () => {
  it("maps the settings to the configuration, with the defaults of optional ones", () => {
    const config = parseConfig(env);
    expect(config).toMatchObject({
      rpId: "localhost",
      origins: [],
      topOrigins: [],
      anyLocalhostPort: true,
      challengeTtlSeconds: 300,
      rateLimit: { requests: 100, windowSeconds: 60, verifyRequests: 30, onError: "closed", ipv6NetworkFactor: 16 },
      corsOrigins: ["http://localhost:8787"],
      reauthenticationWindowSeconds: 300,
      conformanceApi: false,
      attestationTrust: { policy: "none", mdsRootCertificate: null, mdsUrl: null, aaguidAllowlist: [] },
      secrets: { adminApiKey: null },
    });
  });

  it("reads lists, numbers and switches", () => {
    const config = parseConfig({
      ...env,
      RP_ORIGINS: " https://a.example , android:apk-key-hash:abc,http://localhost:* ",
      RP_TOP_ORIGINS: "https://portal.example",
      RATE_LIMIT_IPV6_48_FACTOR: "4",
      REAUTHENTICATION_WINDOW_SECONDS: "60",
      CONFORMANCE_API: "true",
      ATTESTATION_TRUST: "mds",
      AAGUID_ALLOWLIST: "0123456789ABCDEF0123456789ABCDEF".replace(/(.{8})(.{4})(.{4})(.{4})(.{12})/, "$1-$2-$3-$4-$5"),
      MDS_ROOT_CERT: "  PEM  ",
    });
    expect(config.origins).toEqual(["https://a.example", "android:apk-key-hash:abc"]);
    expect(config.anyLocalhostPort).toBe(true);
    expect(config.topOrigins).toEqual(["https://portal.example"]);
    expect(config.rateLimit.ipv6NetworkFactor).toBe(4);
    expect(config.reauthenticationWindowSeconds).toBe(60);
    expect(config.conformanceApi).toBe(true);
    expect(config.attestationTrust.aaguidAllowlist).toEqual(["01234567-89ab-cdef-0123-456789abcdef"]);
    expect(config.attestationTrust.mdsRootCertificate).toBe("PEM");
  });

  it("throws one CONFIGURATION_ERROR naming every bad variable, never a value", () => {
    const error = configurationErrorOf({ CHALLENGE_TTL_SECONDS: "5", LOG_LEVEL: "loud", SESSION_SIGNING_KEY: "" });
    expect(error).toMatchObject({ code: "CONFIGURATION_ERROR", status: 500 });
    expect(error.details).toEqual({ variables: ["CHALLENGE_TTL_SECONDS", "LOG_LEVEL", "SESSION_SIGNING_KEY"] });
    expect(error.message).toMatch(
      /^Invalid configuration: CHALLENGE_TTL_SECONDS: must be a whole number from 30 to 3600; /,
    );
    expect(error.message).toContain("SESSION_SIGNING_KEY: missing secret (ES256 private key as JWK JSON)");
  });
});

describe("ranges", () => {
  it.each([
    ["CHALLENGE_TTL_SECONDS", "29", "must be a whole number from 30 to 3600"],
    ["CHALLENGE_TTL_SECONDS", "3601", "must be a whole number from 30 to 3600"],
    ["RATE_LIMIT_IPV6_48_FACTOR", "0", "must be a whole number from 1 to 65536"],
    ["REAUTHENTICATION_WINDOW_SECONDS", "1.5", "must be a whole number from 30 to 86400"],
    ["HSTS_MAX_AGE", "-1", "must be a whole number of seconds, 0 or more"],
    ["ADMIN_API_KEY", "short", "must be at least 32 characters, or unset"],
    ["MDS_URL", "http://mds.example", "must be an https:// URL, or empty"],
  ])("refuses %s = %s", (variable, value, message) => {
    expect(problemsOf({ [variable]: value })).toEqual([{ variable, message }]);
  });

  it("accepts the ends of a range", () => {
    expect(problemsOf({ CHALLENGE_TTL_SECONDS: "30" })).toEqual([]);
    expect(problemsOf({ CHALLENGE_TTL_SECONDS: "3600" })).toEqual([]);
  });
});

describe("origins", () => {
  it.each(["https://example.com/", "https://example.com/path", "example.com", "android:apk-key-hash:"])(
    "refuses %s as an origin",
    (origin) => {
      expect(problemsOf({ CORS_ORIGINS: origin }).map((p) => p.variable)).toEqual(["CORS_ORIGINS"]);
    },
  );

  it(`allows ${anyLocalhostPort} only with RP_ID localhost`, () => {
    expect(problemsOf({ RP_ORIGINS: anyLocalhostPort })).toEqual([]);
    expect(problemsOf({ RP_ID: "example.com", RP_ORIGINS: anyLocalhostPort })).toEqual([
      {
        variable: "RP_ORIGINS",
        message: `${anyLocalhostPort} is for local development only and needs RP_ID = "localhost"; list each origin exactly (e.g. https://example.com)`,
      },
    ]);
  });

  it("takes the wildcard in RP_ORIGINS only", () => {
    expect(problemsOf({ CORS_ORIGINS: anyLocalhostPort }).map((p) => p.variable)).toEqual(["CORS_ORIGINS"]);
    expect(problemsOf({ RP_TOP_ORIGINS: anyLocalhostPort }).map((p) => p.variable)).toEqual(["RP_TOP_ORIGINS"]);
  });

  it("needs ATTESTATION_TRUST mds for an AAGUID allow list", () => {
    expect(problemsOf({ AAGUID_ALLOWLIST: "01234567-89ab-cdef-0123-456789abcdef" })).toEqual([
      {
        variable: "AAGUID_ALLOWLIST",
        message: 'needs ATTESTATION_TRUST = "mds" (only attested AAGUIDs can be allowed)',
      },
    ]);
  });
});

describe("rules between settings", () => {
  it("are judged once every setting is valid on its own", () => {
    const problems = problemsOf({
      CHALLENGE_TTL_SECONDS: "5",
      AAGUID_ALLOWLIST: "01234567-89ab-cdef-0123-456789abcdef",
    });
    expect(problems.map((p) => p.variable)).toEqual(["CHALLENGE_TTL_SECONDS"]);
  });
});

describe("setting names", () => {
  it("lists every setting, the secrets among them", () => {
    expect(settingNames).toContain("RATE_LIMIT_IPV6_48_FACTOR");
    expect(settingNames).toContain("REAUTHENTICATION_WINDOW_SECONDS");
    expect(secretNames).toEqual([
      "ANALYTICS_API_TOKEN",
      "CREDENTIAL_ENCRYPTION_KEY",
      "CREDENTIAL_ID_HMAC_KEY",
      "SESSION_SIGNING_KEY",
      "ADMIN_API_KEY",
    ]);
    for (const name of secretNames) expect(settingNames).toContain(name);
  });
});
