// Imports nothing: the command line checks project names without loading the server.

/** Token project that makes a token an admin token. */
export const ADMIN_PROJECT = '*';
/** What a project name may be (as `depot-builder token create --project` accepts it). */
export const PROJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
