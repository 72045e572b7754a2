import { vi } from "vitest";

/**
 * Captures what the Worker writes to the console (its JSON log lines) into the returned array,
 * until `vi.restoreAllMocks()`.
 */
export function captureLogLines(): string[] {
  const lines: string[] = [];
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(" "));
    });
  }
  return lines;
}
