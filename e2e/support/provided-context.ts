// What the global setup (global-setup.mjs) hands to the test files through `inject()`.
declare module "vitest" {
  export interface ProvidedContext {
    /** Where `wrangler dev` serves the demo and the API, e.g. http://localhost:41234. */
    origin: string;
  }
}

export {};
