/*
 * error.c: struct q_error, the one place user-facing error text is built.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include <spoolq/error.h>

int q_error_set(struct q_error *err, enum q_error_kind kind, int errnum,
		const char *fmt, ...)
{
	int ret = errnum > 0 ? -errnum : -EINVAL;

	if (!err || err->kind != Q_ERR_NONE)
		return ret;
	err->kind = kind;
	err->errnum = errnum > 0 ? errnum : 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return ret;
}

bool q_error_is_set(const struct q_error *err)
{
	return err && err->kind != Q_ERR_NONE;
}

void q_error_clear(struct q_error *err)
{
	if (!err)
		return;
	err->kind = Q_ERR_NONE;
	err->errnum = 0;
	err->message[0] = '\0';
}

void q_error_print(FILE *out, const char *prog, const struct q_error *err)
{
	if (!q_error_is_set(err)) {
		fprintf(out, "%s: unknown error\n", prog);
		return;
	}
	if (err->errnum)
		fprintf(out, "%s: %s: %s\n", prog, err->message,
			strerror(err->errnum));
	else
		fprintf(out, "%s: %s\n", prog, err->message);
}

int q_error_exit_status(const struct q_error *err)
{
	if (err && err->kind == Q_ERR_INPUT)
		return 2;
	return 3;
}
