// EC2 Describe* calls page by NextToken; a table shows up to a limit of rows (the first page renders fast
// even with 10,000 volumes) and the page offers to load more.

/** Rows so far, and whether the API has more. */
export interface Paged<T> {
  readonly rows: T[];
  readonly more: boolean;
}

/** Calls `page` with each NextToken until `limit` rows or the end. */
export async function collectPages<T>(
  page: (
    nextToken: string | undefined,
    maxResults: number,
  ) => Promise<{ rows: T[]; nextToken?: string | undefined }>,
  limit: number,
): Promise<Paged<T>> {
  const rows: T[] = [];
  let token: string | undefined;
  do {
    const answer = await page(token, Math.min(1000, Math.max(5, limit - rows.length)));
    rows.push(...answer.rows);
    token = answer.nextToken;
  } while (token !== undefined && token !== '' && rows.length < limit);
  return { rows, more: token !== undefined && token !== '' };
}
