// The flowc extension: starts `flowc lsp` (stdio) for .flow files. Highlighting comes from the
// grammar and the YAML schema from package.json; everything else is the language server's.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("flowc");
  const server = {
    command: config.get("server.command", "flowc"),
    args: config.get("server.args", ["lsp"]),
    transport: TransportKind.stdio,
    options: { cwd: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath },
  };
  client = new LanguageClient(
    "flowc",
    "flowc",
    { run: server, debug: server },
    { documentSelector: [{ scheme: "file", language: "flow" }, { scheme: "untitled", language: "flow" }] },
  );
  context.subscriptions.push(client);
  return client.start().catch((error) => {
    vscode.window.showErrorMessage(
      `flowc: cannot start "${server.command} ${server.args.join(" ")}" (${error.message}). ` +
        "Install flowc in the workspace's Python environment or set flowc.server.command.",
    );
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
