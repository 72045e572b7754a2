import { beforeAll, describe, expect, it } from "vitest";
import { generateKeyPair, type KeyAlgorithm } from "../authenticator/cose";
import { newKey } from "../support/test-worker";
import {
  aaguidBytes,
  bindingClient,
  createTestCA,
  expectFailed,
  metadataStatement,
  type TestCA,
} from "./binding-client";
import { craftedRegistration, credentialKey } from "./crafted-attestation";
import { TPM_ALG, type TPMOptions, tpmStatement } from "./tpm-attestation";

// Server-ServerAuthenticatorAttestationResponse-Resp-9 ("tpm"), with TPM 2.0 attestations
// built in the test (tpm-attestation.ts): each catalogue item under ATTESTATION_TRUST = "none"
// (the statement's own rules) and "mds" (also the chain to the statement's root).
const ADMIN_API_KEY = newKey();
const ok = { status: "ok", errorMessage: "" };

const mds = bindingClient({ ATTESTATION_TRUST: "mds", ADMIN_API_KEY });
const none = bindingClient({ ATTESTATION_TRUST: "none" });
const statements = mds.metadataAdmin(ADMIN_API_KEY);

let vendor: TestCA;
let stranger: TestCA;
beforeAll(async () => {
  [vendor, stranger] = await Promise.all([createTestCA("Test TPM Vendor Root"), createTestCA("Unrelated TPM Root")]);
});

/** A metadata statement (attca, the TPM's type) naming the vendor root, for a fresh AAGUID. */
async function statementFor(options: { attestationTypes?: string[]; roots?: TestCA[] } = {}) {
  const aaguid = crypto.randomUUID();
  const loaded = await statements.loadStatements([
    metadataStatement(aaguid, {
      roots: (options.roots ?? [vendor]).map((ca) => ca.root),
      attestationTypes: options.attestationTypes ?? ["attca"],
      authenticationAlgorithms: ["rsassa_pkcsv15_sha256_raw", "rsassa_pkcsv15_sha1_raw", "secp256r1_ecdsa_sha256_raw"],
    }),
  ]);
  expect(loaded.status).toBe(201);
  return aaguid;
}

const policies = [
  ["none", none],
  ["mds", mds],
] as const;

/**
 * Key pairs made once per algorithm and shared by the cases (RSA key generation is most of
 * this file's time otherwise): what a case tests is its statement and AIK certificate, each
 * made afresh, and each registration still has its own account and credential id. A case
 * about a key that is not the credential's makes that key itself (F-2).
 */
const once = <T>(make: (algorithm: KeyAlgorithm) => Promise<T>) => {
  const made = new Map<KeyAlgorithm, Promise<T>>();
  return (algorithm: KeyAlgorithm) => {
    let value = made.get(algorithm);
    if (!value) {
      value = make(algorithm);
      made.set(algorithm, value);
    }
    return value;
  };
};
const sharedCredentialKey = once(credentialKey);
const sharedAIKKeys = once(generateKeyPair);

async function register(
  client: typeof mds,
  options: TPMOptions & { credential?: "RS256" | "ES256" | "RS1"; ca?: TestCA; aaguid?: string } = {},
) {
  const aaguid = options.aaguid ?? (client === mds ? await statementFor() : crypto.randomUUID());
  const credential = await sharedCredentialKey(options.credential ?? "RS256");
  const aik = { keys: await sharedAIKKeys(options.alg ?? "RS256"), ...options.aik };
  const { result } = await client.registerWith((creation) =>
    craftedRegistration(creation, {
      fmt: "tpm",
      aaguid: aaguidBytes(aaguid),
      credential,
      attStmt: tpmStatement(options.ca ?? vendor, { ...options, aik }),
    }),
  );
  return result;
}

describe('Server-ServerAuthenticatorAttestationResponse-Resp-9 ("tpm")', () => {
  describe.each(policies)("ATTESTATION_TRUST = %s", (_policy, client) => {
    it.each<[string, TPMOptions & { credential?: "RS256" | "ES256" | "RS1" }]>([
      ["P-1: an RSA credential key, RS256 AIK", {}],
      ["an ECC (P-256) credential key", { credential: "ES256" }],
      ["an RS1 (SHA-1) statement, as older Windows Hello TPMs send", { credential: "RS1", alg: "RS1" }],
      ["an ES256 AIK", { alg: "ES256" }],
    ])("%s is accepted", async (_name, options) => {
      expect((await register(client, options)).body).toEqual(ok);
    });

    it.each<[string, TPMOptions | (() => Promise<TPMOptions>), string]>([
      ['F-1: ver is not "2.0"', { ver: "1.0" }, 'Unexpected ver "1.0"'],
      [
        "F-2: pubArea's key is not the credential key",
        async () => ({ pubAreaKey: await credentialKey("RS256") }),
        "PubArea unique is not same as credentialPublicKey",
      ],
      ["F-3: certInfo.magic is not TPM_GENERATED_VALUE", { magic: 0xff544346 }, "Unexpected magic value"],
      ["F-4: certInfo.type is not TPM_ST_ATTEST_CERTIFY", { type: 0x8018 }, 'Unexpected type "TPM_ST_ATTEST_QUOTE"'],
      [
        "F-5: certInfo.extraData is not the hash of authData || clientDataHash",
        { extraData: (hash) => hash.map((byte) => byte ^ 0xff) },
        "CertInfo extra data did not equal hashed attestation",
      ],
      [
        "F-5: certInfo.extraData hashed with SHA-1 while alg is RS256",
        { extraData: (hash) => hash.subarray(0, 20) },
        "CertInfo extra data did not equal hashed attestation",
      ],
      [
        "F-6: certInfo.attested.name is not the nameAlg hash of pubArea",
        { attestedName: (name) => name.map((byte, i) => (i < 2 ? byte : byte ^ 0x01)) },
        "Attested name comparison failed",
      ],
      [
        "F-6: the attested name computed with another algorithm than pubArea's nameAlg",
        { attestedNameAlg: TPM_ALG.SHA384 },
        "attestation_invalid:tpm_name_algorithm_mismatch",
      ],
      ["F-7: the AIK certificate is not version 3", { aik: { version: 1 } }, "Certificate version was not `3`"],
      [
        "F-8: the AIK certificate's subject is not empty",
        { aik: { subject: "CN=Test TPM AIK, O=Test Vendor, C=US" } },
        "Certificate subject was not empty",
      ],
      [
        "F-9: the AIK certificate has no subject alternative name",
        { aik: { san: null } },
        "did not contain subjectAltName extension",
      ],
      [
        "F-9: the SAN lacks the TPM manufacturer",
        { aik: { san: { model: "FIDO", version: "id:13" } } },
        "incomplete subjectAltName data",
      ],
      [
        "F-9: the SAN lacks the TPM model",
        { aik: { san: { manufacturer: "id:FFFFF1D0", version: "id:13" } } },
        "incomplete subjectAltName data",
      ],
      [
        "F-9: the SAN lacks the TPM version",
        { aik: { san: { manufacturer: "id:FFFFF1D0", model: "FIDO" } } },
        "incomplete subjectAltName data",
      ],
      [
        "F-9: the SAN names an unknown TPM manufacturer",
        { aik: { san: { manufacturer: "id:00000000", model: "FIDO", version: "id:13" } } },
        "Could not match TPM manufacturer",
      ],
      [
        "F-10: the AIK certificate has no extended key usage",
        { aik: { eku: null } },
        "did not contain ExtendedKeyUsage extension",
      ],
      [
        "F-10: the AIK certificate's EKU is not tcg-kp-AIKCertificate",
        { aik: { eku: ["1.3.6.1.5.5.7.3.2"] } },
        'Unexpected extKeyUsage "1.3.6.1.5.5.7.3.2"',
      ],
      ["F-11: the AIK certificate's basic constraints say CA", { aik: { ca: true } }, "basic constraints CA was not"],
      ["F-12: sig does not verify", { corruptSignature: true }, "attestation_invalid"],
      ["F-13: x5c missing", { statement: ({ x5c: _, ...rest }) => rest }, "attestation_malformed:tpm_x5c_missing"],
      ["alg missing", { statement: ({ alg: _, ...rest }) => rest }, "attestation_malformed:tpm_alg_missing"],
      ["ver a number", { statement: (s) => ({ ...s, ver: 2 }) }, "attestation_malformed:tpm_ver_type"],
      [
        "bytes after pubArea (the attested name covering them)",
        { pubAreaTrailing: new Uint8Array([0]) },
        "attestation_invalid:tpm_pubArea_trailing_bytes",
      ],
      [
        "bytes after certInfo",
        { certInfoTrailing: new Uint8Array([0, 0]) },
        "attestation_invalid:tpm_certInfo_trailing_bytes",
      ],
    ])("%s is refused", async (_name, options, reason) => {
      const result = await register(client, typeof options === "function" ? await options() : options);
      expectFailed(result, expect);
      expect(result.body.errorMessage).toContain(reason);
    });
  });

  describe("trust (ATTESTATION_TRUST = mds)", () => {
    it("an AIK issued under a root the statement does not name is refused", async () => {
      const result = await register(mds, { ca: stranger });
      expectFailed(result, expect);
      expect(result.body.errorMessage).toContain("chain_not_to_metadata_root");
    });

    it("a model whose statement declares no chained attestation type is refused", async () => {
      const result = await register(mds, { aaguid: await statementFor({ attestationTypes: ["basic_surrogate"] }) });
      expectFailed(result, expect);
      expect(result.body.errorMessage).toContain("full_attestation_not_in_metadata");
    });

    it("an AAGUID without metadata is refused", async () => {
      const result = await register(mds, { aaguid: crypto.randomUUID() });
      expectFailed(result, expect);
      expect(result.body.errorMessage).toContain("no_metadata");
    });

    it("under none, any AIK root is accepted: TPM roots are not bundled (the statement's rules still apply)", async () => {
      expect((await register(none, { ca: stranger })).body).toEqual(ok);
    });
  });
});
