// Original file: proto/depot/builder/v1/builder.proto

export const EntryType = {
  ENTRY_TYPE_UNSPECIFIED: 'ENTRY_TYPE_UNSPECIFIED',
  ENTRY_TYPE_FILE: 'ENTRY_TYPE_FILE',
  ENTRY_TYPE_DIR: 'ENTRY_TYPE_DIR',
  ENTRY_TYPE_SYMLINK: 'ENTRY_TYPE_SYMLINK',
  /**
   * A hard link to the regular file at `link` (an earlier path of the same manifest).
   */
  ENTRY_TYPE_HARDLINK: 'ENTRY_TYPE_HARDLINK',
} as const;

export type EntryType =
  | 'ENTRY_TYPE_UNSPECIFIED'
  | 0
  | 'ENTRY_TYPE_FILE'
  | 1
  | 'ENTRY_TYPE_DIR'
  | 2
  | 'ENTRY_TYPE_SYMLINK'
  | 3
  /**
   * A hard link to the regular file at `link` (an earlier path of the same manifest).
   */
  | 'ENTRY_TYPE_HARDLINK'
  | 4

export type EntryType__Output = typeof EntryType[keyof typeof EntryType]
