/**
 * The Forge OAuth2 scope → Connect scope equivalences confirmed so far (DESIGN.md, "Connect to
 * Forge adoption"), written as data with the source of each row, so that the pure verdict needs
 * no file and the daemon's image (which has no ../shared) judges as `mpu diff` does. The rows are
 * those of ../shared/connect-to-forge/scope-equivalences.tsv; test/versioning/adoption.test.ts
 * reads that file and fails when the two differ. A policy file adds rows (`adoption:
 * scope-equivalences`).
 */
import type { ScopeEquivalence } from './policy.js';

/** Atlassian, "Connect to OAuth2 scope equivalences" (pages of Oct 21, 2024 and Feb 4, 2025). */
const PAGE =
  'https://developer.atlassian.com/platform/adopting-forge-from-connect/connect-to-oauth2-scope-equivalences';
/** Atlassian community, "Forge apps can now access restricted resources": the Connect scopes in Forge form. */
const COMMUNITY = 'https://community.developer.atlassian.com/t/forge-apps-can-now-access-restricted-resources/54999';

/** The shipped rows; `connectScope` `UNMAPPED` means no Connect equivalent (always an elevation). */
export const SHIPPED_SCOPE_EQUIVALENCES: readonly ScopeEquivalence[] = Object.freeze([
  { product: 'jira', forgeScope: 'manage:jira-configuration', connectScope: 'ADMIN', source: PAGE },
  { product: 'jira', forgeScope: 'manage:jira-project', connectScope: 'PROJECT_ADMIN', source: PAGE },
  { product: 'jira', forgeScope: 'manage:jira-webhook', connectScope: 'WRITE', source: PAGE },
  { product: 'jira', forgeScope: 'read:jira-user', connectScope: 'READ', source: PAGE },
  { product: 'jira', forgeScope: 'read:jira-work', connectScope: 'READ', source: PAGE },
  { product: 'jira', forgeScope: 'write:jira-work', connectScope: 'DELETE', source: PAGE },
  { product: 'jira', forgeScope: 'delete:async-task:jira', connectScope: 'READ', source: PAGE },
  { product: 'confluence', forgeScope: 'write:confluence-groups', connectScope: 'UNMAPPED', source: PAGE },
  { product: 'confluence', forgeScope: 'read:audit-log:confluence', connectScope: 'UNMAPPED', source: PAGE },
  { product: 'confluence', forgeScope: 'write:audit-log:confluence', connectScope: 'UNMAPPED', source: PAGE },
  { product: 'jira', forgeScope: 'read:connect-jira', connectScope: 'READ', source: COMMUNITY },
  { product: 'jira', forgeScope: 'write:connect-jira', connectScope: 'WRITE', source: COMMUNITY },
  { product: 'jira', forgeScope: 'delete:connect-jira', connectScope: 'DELETE', source: COMMUNITY },
  { product: 'jira', forgeScope: 'project-admin:connect-jira', connectScope: 'PROJECT_ADMIN', source: COMMUNITY },
  { product: 'jira', forgeScope: 'admin:connect-jira', connectScope: 'ADMIN', source: COMMUNITY },
  { product: 'jira', forgeScope: 'act-as-user:connect-jira', connectScope: 'ACT_AS_USER', source: COMMUNITY },
  {
    product: 'jira',
    forgeScope: 'access-email-addresses:connect-jira',
    connectScope: 'ACCESS_EMAIL_ADDRESSES',
    source: COMMUNITY,
  },
  { product: 'confluence', forgeScope: 'read:connect-confluence', connectScope: 'READ', source: COMMUNITY },
  { product: 'confluence', forgeScope: 'write:connect-confluence', connectScope: 'WRITE', source: COMMUNITY },
  { product: 'confluence', forgeScope: 'delete:connect-confluence', connectScope: 'DELETE', source: COMMUNITY },
  {
    product: 'confluence',
    forgeScope: 'space-admin:connect-confluence',
    connectScope: 'SPACE_ADMIN',
    source: COMMUNITY,
  },
  { product: 'confluence', forgeScope: 'admin:connect-confluence', connectScope: 'ADMIN', source: COMMUNITY },
  {
    product: 'confluence',
    forgeScope: 'act-as-user:connect-confluence',
    connectScope: 'ACT_AS_USER',
    source: COMMUNITY,
  },
  {
    product: 'confluence',
    forgeScope: 'access-email-addresses:connect-confluence',
    connectScope: 'ACCESS_EMAIL_ADDRESSES',
    source: COMMUNITY,
  },
]);
