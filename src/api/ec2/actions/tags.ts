// EC2 tag actions: CreateTags, DeleteTags, DescribeTags, for every resource kind registered with the tag
// service (cloud/common/tags.ts).
import { defineAction } from '../action.ts';
import { checkDryRun, dryRunCheck } from '../dry-run.ts';

/** EC2 CreateTags. */
export const createTags = defineAction({
  name: 'CreateTags',
  params: ['ResourceId.N', 'Tag.N', 'DryRun'],
  async run(ctx, params) {
    const ids = params.list('ResourceId');
    const tags = params.tags();
    await ctx.cloud.ebs.tags.createTags(ctx.accountId, ids, tags, dryRunCheck(ctx, params));
    return { return: true };
  },
});

/** EC2 DeleteTags: a Tag.N without Value deletes the key whatever its value; no Tag.N deletes all. */
export const deleteTags = defineAction({
  name: 'DeleteTags',
  params: ['ResourceId.N', 'Tag.N', 'DryRun'],
  async run(ctx, params) {
    const ids = params.list('ResourceId');
    const selectors = params
      .structList('Tag')
      .map((tag) => ({ key: tag.requiredString('Key'), value: tag.string('Value') }));
    await ctx.cloud.ebs.tags.deleteTags(ctx.accountId, ids, selectors, dryRunCheck(ctx, params));
    return { return: true };
  },
});

/** EC2 DescribeTags. */
export const describeTags = defineAction({
  name: 'DescribeTags',
  params: ['Filter.N', 'MaxResults', 'NextToken', 'DryRun'],
  async run(ctx, params) {
    const filters = params.filters();
    const { maxResults, nextToken } = params.page();
    checkDryRun(ctx, params);
    const page = await ctx.cloud.ebs.tags.describeTags(ctx.accountId, filters, maxResults, nextToken);
    return { tagSet: page.items.map((t) => ({ ...t })), nextToken: page.nextToken };
  },
});

/** Every tag action, for the registry. */
export const tagActions = [createTags, deleteTags, describeTags] as const;
