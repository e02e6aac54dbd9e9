/** Version of the builder-host. */
export const BUILDER_VERSION = '0.1.0';
