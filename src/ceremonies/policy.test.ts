import { describe, expect, it } from "vitest";
import { conformanceAlgorithmIds, conformancePolicy } from "../conformance/policy";
import { nativePolicy, recordedPolicy, supportedAlgorithmIds } from "./policy";

describe("ceremony policies", () => {
  it("reach disjoint sets of accounts: the binding only its own namespace", () => {
    for (const name of ["alice", "fido-conformance:alice", "FIDO-Conformance:Bob", " fido-conformance:carol"]) {
      expect(nativePolicy.reaches(name)).toBe(!conformancePolicy.reaches(name));
    }
    expect(conformancePolicy.reaches("fido-conformance:alice")).toBe(true);
    expect(conformancePolicy.reaches("FIDO-Conformance:Bob")).toBe(true);
    expect(nativePolicy.reaches("alice")).toBe(true);
  });

  it("record the native policy as absence and any other by its id", () => {
    expect(recordedPolicy(nativePolicy)).toBeUndefined();
    expect(recordedPolicy(conformancePolicy)).toBe("fido-conformance");
    expect(nativePolicy.id).not.toBe(conformancePolicy.id);
  });

  it("offer SHA-1 RSA (RS1) only on the binding", () => {
    expect(conformanceAlgorithmIds).toContain(-65535);
    expect(supportedAlgorithmIds).not.toContain(-65535);
    expect(nativePolicy.algorithms).toEqual([-8, -7, -257]);
  });
});
