// How a feature plugs into connections, the same shape for every protocol: the connection hands each
// extension it was given a context (the small surface it offers to extensions: frames, settings, keys,
// failing or retiring the connection) once, before the application sees the connection. Extensions
// never touch a connection's fields; the protocol packages never import an extension.

/** A feature attached to each connection of one protocol. */
export interface ConnectionExtension<Context, Connection> {
  /** Called once per connection, before connect() resolves (client) or before its 'connection' event (server). */
  attach(context: Context, connection: Connection): void;
}
