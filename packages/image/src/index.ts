// @flowmatch/image — filled by its own issue; see README.md.
export const PACKAGE_STATUS = 'planned' as const;
