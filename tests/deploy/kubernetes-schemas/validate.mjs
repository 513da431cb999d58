// Validates Kubernetes objects (a JSON array on stdin) against the OpenAPI schemas that the npm
// package kubernetes-models carries (and @kubernetes-models/prometheus-operator for the
// ServiceMonitor). One line per object, "OK kind/name" or "INVALID kind/name: why"; exit 1 when
// any is invalid.
//
// Those schemas check types, enums and required fields but let unknown fields through, which
// would pass a misspelt field the API server drops (or, with kubectl --validate=strict,
// refuses). So each object is validated through a proxy that records every field the validator
// reads: a field it never read is one the schema does not know, and is reported like kubectl's
// strict field validation does.
const modules = {
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
};

async function modelFor(apiVersion, kind) {
  const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
  const base = modules[group] ?? "kubernetes-models";
  const module = await import(`${base}/${apiVersion}`);
  if (!module[kind]) throw new Error(`no schema for ${apiVersion} ${kind}`);
  return module[kind];
}

// A deep proxy of `value`; every own field the validator reads is added to `read` as a path.
function tracked(value, path, read) {
  if (Array.isArray(value)) return value.map((item, i) => tracked(item, `${path}/${i}`, read));
  if (value === null || typeof value !== "object") return value;
  const children = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, tracked(v, `${path}/${k}`, read)]));
  return new Proxy(children, {
    get(target, key, receiver) {
      if (typeof key === "string" && Object.hasOwn(target, key)) read.add(`${path}/${key}`);
      return Reflect.get(target, key, receiver);
    },
  });
}

function fields(value, path, out) {
  if (Array.isArray(value)) value.forEach((item, i) => fields(item, `${path}/${i}`, out));
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      out.push(`${path}/${k}`);
      fields(v, `${path}/${k}`, out);
    }
  }
  return out;
}

const objects = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));
let invalid = 0;
for (const object of objects) {
  const name = `${object.kind}/${object.metadata?.name}`;
  try {
    const Model = await modelFor(object.apiVersion, object.kind);
    const read = new Set();
    Model.prototype.validate.call(tracked(object, "", read));
    // apiVersion and kind are read by kubernetes-models' type guard, not by the schema.
    const unknown = fields(object, "", []).filter((p) => !read.has(p) && p !== "/apiVersion" && p !== "/kind");
    if (unknown.length) throw new Error(`unknown field ${unknown[0]}${unknown.length > 1 ? ` (+${unknown.length - 1})` : ""}`);
    console.log(`OK ${object.apiVersion} ${name}`);
  } catch (error) {
    invalid++;
    console.log(`INVALID ${object.apiVersion} ${name}: ${error.message.split("\n")[0]}`);
  }
}
process.exit(invalid ? 1 : 0);
