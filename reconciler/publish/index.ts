// Publishing: signed apt repositories built from .debs.
export { publishApt, releaseDueForRefresh, type PublishInput, type PublishPackage, type PublishFile, type PublishReport } from './apt/publish.ts';
export { resignRepository, type ResignReport } from './apt/resign.ts';
export { publishedArtifacts } from './apt/published-artifacts.ts';
export { keyFileName, poolPath, indexArchitectures } from './apt/layout.ts';
export { readDebControl } from './deb/read-deb.ts';
export { parseDsc, sourceVersionMatches } from './deb/dsc.ts';
export { parseControlParagraph, formatControlParagraph, field } from './deb/control-paragraph.ts';
