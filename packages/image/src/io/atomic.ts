// One atomic writer for the whole project lives in core.
export { writeFileAtomic } from '@flowmatch/core';
