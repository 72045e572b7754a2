import { describe, expect, it } from "vitest";
import { backupEligibilityCleared, counterRegressed, userHandleRefusal } from "./assertion-rules";

describe("counterRegressed", () => {
  it("accepts a passkey that keeps no counter (both zero)", () => {
    expect(counterRegressed(0, 0)).toBe(false);
  });
  it("accepts a counter that went up, from zero or not", () => {
    expect(counterRegressed(0, 1)).toBe(false);
    expect(counterRegressed(5, 6)).toBe(false);
  });
  it("refuses a counter that stayed or went back", () => {
    expect(counterRegressed(5, 5)).toBe(true);
    expect(counterRegressed(5, 4)).toBe(true);
    expect(counterRegressed(5, 0)).toBe(true);
  });
});

describe("backupEligibilityCleared", () => {
  it("refuses only an eligible passkey that reports itself ineligible", () => {
    expect(backupEligibilityCleared(true, false)).toBe(true);
    expect(backupEligibilityCleared(true, true)).toBe(false);
    expect(backupEligibilityCleared(false, false)).toBe(false);
    expect(backupEligibilityCleared(false, true)).toBe(false);
  });
});

describe("userHandleRefusal", () => {
  it("accepts the owner's handle", () => {
    expect(userHandleRefusal("alice", null, "alice")).toBeNull();
    expect(userHandleRefusal("alice", "alice", "alice")).toBeNull();
  });
  it("refuses another user's handle", () => {
    expect(userHandleRefusal("mallory", null, "alice")).toBe("user_handle_mismatch");
    expect(userHandleRefusal("mallory", "alice", "alice")).toBe("user_handle_mismatch");
  });
  it("accepts a missing handle only when the ceremony named the account", () => {
    expect(userHandleRefusal(undefined, "alice", "alice")).toBeNull();
    expect(userHandleRefusal(undefined, null, "alice")).toBe("user_handle_missing");
  });
});
