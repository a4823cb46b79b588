/*-------------------------------------------------------------------------
 *
 * src/broker/headers.c
 *	  Record headers between jsonb (the SQL API) and Kafka's wire form.
 *
 * Kafka headers are an ordered list of (string key, bytes value) pairs in
 * which a key may repeat and a value may be null.  On input we accept a
 * JSON object {"k": "v"} (the easy case) or an array of [key, value] pairs
 * (when order or repeated keys matter); values are strings or null.
 *
 * On output a record's headers are always an array of [key, value] pairs,
 * so nothing is lost: a value that is valid UTF-8 without NUL bytes is a
 * JSON string, any other value is {"base64": "..."}, a null value is null.
 * A record without headers has NULL headers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/base64.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "broker/headers.h"

static void
header_from_values(MqHeader *h, JsonbValue *k, JsonbValue *v)
{
	if (k->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("record header names must be JSON strings")));
	h->key = (const uint8_t *) k->val.string.val;
	h->key_len = k->val.string.len;
	if (v->type == jbvNull)
	{
		h->value = NULL;
		h->value_len = -1;
	}
	else if (v->type == jbvString)
	{
		h->value = (const uint8_t *) v->val.string.val;
		h->value_len = v->val.string.len;
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value of record header \"%.*s\" must be a JSON string or null",
						k->val.string.len, k->val.string.val)));
}

static void
bad_headers(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("record headers must be a JSON object or an array of [name, value] pairs"),
			 errhint("For example {\"trace\": \"abc\"} or [[\"tag\", \"a\"], [\"tag\", \"b\"]].")));
}

MqHeader *
MqHeadersFromJsonb(Jsonb *jb, int32 *nheaders)
{
	JsonbContainer *root = &jb->root;
	MqHeader   *hdrs;
	int			n;

	if (JB_ROOT_IS_SCALAR(jb))
		bad_headers();
	n = JB_ROOT_COUNT(jb);
	*nheaders = n;
	if (n == 0)
		return NULL;
	hdrs = palloc(sizeof(MqHeader) * n);

	if (JB_ROOT_IS_OBJECT(jb))
	{
		JsonbIterator *it = JsonbIteratorInit(root);
		JsonbValue	k,
					v;
		JsonbIteratorToken tok;
		int			i = 0;

		while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
		{
			if (tok != WJB_KEY)
				continue;
			tok = JsonbIteratorNext(&it, &v, true);
			Assert(tok == WJB_VALUE);
			header_from_values(&hdrs[i++], &k, &v);
		}
		Assert(i == n);
	}
	else
	{
		for (int i = 0; i < n; i++)
		{
			JsonbValue *pair = getIthJsonbValueFromContainer(root, i);
			JsonbValue *k,
					   *v;

			if (pair->type != jbvBinary ||
				!JsonContainerIsArray(pair->val.binary.data) ||
				JsonContainerSize(pair->val.binary.data) != 2)
				bad_headers();
			k = getIthJsonbValueFromContainer(pair->val.binary.data, 0);
			v = getIthJsonbValueFromContainer(pair->val.binary.data, 1);
			header_from_values(&hdrs[i], k, v);
		}
	}
	return hdrs;
}

/*
 * Kafka header names and values are usually UTF-8 strings.  Show them as
 * JSON strings when that is lossless: valid UTF-8 without NUL bytes, and a
 * UTF-8 database (or pure ASCII); anything else is base64.
 */
static bool
is_json_text(const uint8_t *p, int32 len)
{
	if (memchr(p, '\0', len) != NULL)
		return false;
	if (GetDatabaseEncoding() != PG_UTF8)
	{
		for (int32 i = 0; i < len; i++)
			if (p[i] & 0x80)
				return false;
		return true;
	}
	return pg_verify_mbstr(PG_UTF8, (const char *) p, len, true);
}

static void
push_bytes(JsonbParseState **state, const uint8_t *p, int32 len)
{
	JsonbValue	v;

	if (len < 0)
	{
		v.type = jbvNull;
		pushJsonbValue(state, WJB_ELEM, &v);
	}
	else if (is_json_text(p, len))
	{
		v.type = jbvString;
		v.val.string.val = (char *) p;
		v.val.string.len = len;
		pushJsonbValue(state, WJB_ELEM, &v);
	}
	else
	{
		JsonbValue	k;
		int			enclen = pg_b64_enc_len(len);
		char	   *enc = palloc(enclen + 1);

		enclen = pg_b64_encode((const char *) p, len, enc, enclen);
		pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		k.type = jbvString;
		k.val.string.val = "base64";
		k.val.string.len = 6;
		pushJsonbValue(state, WJB_KEY, &k);
		v.type = jbvString;
		v.val.string.val = enc;
		v.val.string.len = enclen;
		pushJsonbValue(state, WJB_VALUE, &v);
		pushJsonbValue(state, WJB_END_OBJECT, NULL);
	}
}

Jsonb *
MqHeadersToJsonb(const MqDecodedRecord *rec)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;
	MqHeaderIter it;
	MqHeader	h;
	bool		done;

	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	MqHeaderIterInit(&it, rec);
	for (;;)
	{
		if (MqHeaderIterNext(&it, &h, &done) != MQ_CODEC_OK)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("corrupt record headers at offset " INT64_FORMAT, rec->offset)));
		if (done)
			break;
		pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
		push_bytes(&state, h.key, h.key_len);
		push_bytes(&state, h.value, h.value_len);
		pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	}
	res = pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	return JsonbValueToJsonb(res);
}
