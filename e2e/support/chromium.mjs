// Debian's Chromium driven by playwright-core (no browser download). The background
// networking switches keep Chromium from dialling Google services, which on a closed
// network stalls its own connections.
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";

const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launchChromium() {
  if (!existsSync(executablePath)) {
    throw new Error(`No Chromium at ${executablePath}: install it (apt-get install -y chromium) or set CHROMIUM_PATH.`);
  }
  return chromium.launch({
    executablePath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Where the suite saves its screenshots (gitignored; CI keeps test-results/ as an artifact). */
export const screenshotDir = "test-results/e2e/screenshots";
