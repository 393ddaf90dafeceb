// @flowmatch/meanflow — a placeholder until its issue (private, not published); see README.md.
export const PACKAGE_STATUS = 'planned' as const;
