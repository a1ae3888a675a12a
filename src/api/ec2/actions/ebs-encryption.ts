// EC2's EBS encryption defaults: Get/Enable/DisableEbsEncryptionByDefault and Get/Modify/ResetEbsDefaultKmsKeyId.
// Semantics: cloud/ebs/encryption-defaults.ts. Strata records the settings and the keys, and does NOT encrypt
// volume data at rest (docs/ec2-volumes.md, "Encryption").
import { defineAction, type Ec2Action } from '../action.ts';
import { checkDryRun } from '../dry-run.ts';

const notes = 'settings only: volumes are marked encrypted, their data is not encrypted at rest';

/** EC2 GetEbsEncryptionByDefault. */
export const getEbsEncryptionByDefault = defineAction({
  name: 'GetEbsEncryptionByDefault',
  params: ['DryRun'],
  status: 'partial',
  notes,
  async run(ctx, params) {
    checkDryRun(ctx, params);
    const defaults = await ctx.cloud.ebs.encryption.get(ctx.accountId);
    return { ebsEncryptionByDefault: defaults.encryptionByDefault, sseType: 'sse-ebs' };
  },
});

function byDefault(name: string, on: boolean): Ec2Action {
  return defineAction({
    name,
    params: ['DryRun'],
    status: 'partial',
    notes,
    async run(ctx, params) {
      checkDryRun(ctx, params);
      await ctx.cloud.ebs.encryption.setEncryptionByDefault(ctx.accountId, on);
      return { ebsEncryptionByDefault: on };
    },
  });
}

/** EC2 EnableEbsEncryptionByDefault. */
export const enableEbsEncryptionByDefault = byDefault('EnableEbsEncryptionByDefault', true);

/** EC2 DisableEbsEncryptionByDefault. */
export const disableEbsEncryptionByDefault = byDefault('DisableEbsEncryptionByDefault', false);

/** EC2 GetEbsDefaultKmsKeyId. */
export const getEbsDefaultKmsKeyId = defineAction({
  name: 'GetEbsDefaultKmsKeyId',
  params: ['DryRun'],
  async run(ctx, params) {
    checkDryRun(ctx, params);
    return { kmsKeyId: (await ctx.cloud.ebs.encryption.get(ctx.accountId)).kmsKeyArn };
  },
});

/** EC2 ModifyEbsDefaultKmsKeyId: any key id, alias or ARN is taken (there is no KMS to ask). */
export const modifyEbsDefaultKmsKeyId = defineAction({
  name: 'ModifyEbsDefaultKmsKeyId',
  params: ['KmsKeyId', 'DryRun'],
  status: 'partial',
  notes: 'the key is not checked against a KMS (Strata has none)',
  async run(ctx, params) {
    const key = params.requiredString('KmsKeyId');
    ctx.cloud.ebs.encryption.keyArn(ctx.accountId, key);
    checkDryRun(ctx, params);
    return { kmsKeyId: await ctx.cloud.ebs.encryption.setKey(ctx.accountId, key) };
  },
});

/** EC2 ResetEbsDefaultKmsKeyId: back to the AWS-managed key. */
export const resetEbsDefaultKmsKeyId = defineAction({
  name: 'ResetEbsDefaultKmsKeyId',
  params: ['DryRun'],
  async run(ctx, params) {
    checkDryRun(ctx, params);
    return { kmsKeyId: await ctx.cloud.ebs.encryption.setKey(ctx.accountId, null) };
  },
});

/** The encryption-default actions, for the registry. */
export const ebsEncryptionActions = [
  getEbsEncryptionByDefault,
  enableEbsEncryptionByDefault,
  disableEbsEncryptionByDefault,
  getEbsDefaultKmsKeyId,
  modifyEbsDefaultKmsKeyId,
  resetEbsDefaultKmsKeyId,
] as const;
