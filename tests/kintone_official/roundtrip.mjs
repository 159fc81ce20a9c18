// Drives @kintone/rest-api-client against the stand-in; prints one JSON summary for the pytest to check.
import { KintoneRestAPIClient } from "@kintone/rest-api-client";

const [baseUrl, token, app] = process.argv.slice(2);
const client = new KintoneRestAPIClient({ baseUrl, auth: { apiToken: token } });
const summary = {};

const records = Array.from({ length: 250 }, (_, i) => ({
  "メールアドレス": { value: `official${i}@x.jp` },
  "スコア": { value: String(i) },
}));
const added = await client.record.addAllRecords({ app, records });
summary.added = added.records.length;

const seek = await client.record.getAllRecords({ app, condition: 'スコア >= 0' });
summary.seek = seek.length;
summary.scoreType = typeof seek[0]["スコア"].value;

const cursor = await client.record.getAllRecordsWithCursor({ app, query: "スコア >= 100 order by スコア asc" });
summary.cursor = cursor.length;
summary.firstScore = cursor[0]["スコア"].value;

const upsert = await client.record.updateRecords({
  app,
  upsert: true,
  records: [
    { updateKey: { field: "メールアドレス", value: "official0@x.jp" }, record: { "姓": { value: "公式" } } },
    { updateKey: { field: "メールアドレス", value: "official-new@x.jp" }, record: {} },
  ],
});
summary.operations = upsert.records.map((r) => r.operation);

const fields = await client.app.getFormFields({ app });
summary.emailUnique = fields.properties["メールアドレス"].unique;

try {
  await client.record.getRecords({ app, query: "limit 501" });
} catch (error) {
  summary.errorCode = error.code;
  summary.errorStatus = error.status;
}
console.log(JSON.stringify(summary));
