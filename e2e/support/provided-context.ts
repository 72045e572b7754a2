// What the global setup (global-setup.mjs) hands to the test files through `inject()`.
declare module "vitest" {
  export interface ProvidedContext {
    /** Where `wrangler dev` serves the demo and the API, e.g. http://localhost:41234. */
    origin: string;
    /** The server's ADMIN_API_KEY, so tests can look at accounts as an operator would. */
    adminKey: string;
  }
}

export {};
