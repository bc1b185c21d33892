/**
 * The direction of imports in src/ (docs/design.md), checked by
 * tests/unit/architecture.test.ts: protocol ← net ← server / client, common used by
 * all; inside the client, features (peer/, files/) never reach up to the app.
 */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "An import cycle: modules that need each other cannot be understood, tested or moved alone.",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "protocol-stands-alone",
      severity: "error",
      comment: "The protocol (frames, messages) is the bottom layer: it imports nothing else of ours.",
      from: { path: "^src/protocol/" },
      to: { path: "^src/(net|server|client|common)/" },
    },
    {
      name: "common-stands-alone",
      severity: "error",
      comment: "common/ (clock, logger, cli, sanitize) is used by all and uses none of the layers.",
      from: { path: "^src/common/" },
      to: { path: "^src/(protocol|net|server|client)/" },
    },
    {
      name: "net-below-programs",
      severity: "error",
      comment: "net/ (links) may use protocol/ and common/ only, never a program.",
      from: { path: "^src/net/" },
      to: { path: "^src/(server|client)/" },
    },
    {
      name: "server-not-client",
      severity: "error",
      comment: "The server and the client share only protocol/, net/ and common/.",
      from: { path: "^src/server/" },
      to: { path: "^src/client/" },
    },
    {
      name: "client-not-server",
      severity: "error",
      comment: "The server and the client share only protocol/, net/ and common/.",
      from: { path: "^src/client/" },
      to: { path: "^src/server/" },
    },
    {
      name: "features-below-app",
      severity: "error",
      comment:
        "Client features (peer/, files/) are used by the app, never the reverse; they reach the screen through output.ts's interfaces, not the terminal's class.",
      from: { path: "^src/client/(peer|files)/" },
      to: { path: "^src/client/(app|main|terminal)\\.ts$" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // Type-only imports count: a cycle through types is still a cycle.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
  },
};
