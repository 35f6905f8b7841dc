export {
  readCampaignList,
  parseCampaignList,
  type CampaignList,
  type CampaignRow,
} from './list.js';
export {
  CampaignPolicySchema,
  parseCampaignPolicy,
  type CampaignPolicy,
  type CampaignPolicyInput,
} from './policy.js';
export { readDoNotCallList } from './do-not-call.js';
export { CampaignStore, campaignDir, readJournal } from './store.js';
export {
  runCampaign,
  type CampaignEnding,
  type CampaignRunOptions,
  type CampaignRunResult,
} from './runner.js';
export { campaignStatus, renderStatus, type CampaignStatus } from './status.js';
