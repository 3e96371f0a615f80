'use strict';
/**
 * Datapoint address patterns, with the same syntax as the core's routing.json `from`:
 * segments split on `.`, `*` matches exactly one segment, `**` any number (also none).
 *
 * The core's live socket filters by plain prefixes only, so a pattern is split into the
 * prefix the core is asked for (its literal head) and a test applied here to what arrives.
 */

function escapeRegex(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Why `pattern` cannot be used, or null. */
function problem(pattern) {
    if (typeof pattern !== 'string' || pattern.trim() === '') {
        return 'no address or pattern';
    }
    if (/\s/.test(pattern)) {
        return `'${pattern}' contains whitespace`;
    }
    const segments = pattern.split('.');
    for (const segment of segments) {
        if (segment === '') {
            return `'${pattern}' has an empty segment`;
        }
        if (segment.includes('*') && segment !== '*' && segment !== '**') {
            return `'${pattern}': '*' and '**' must stand alone between dots`;
        }
    }
    if (segments[0].includes('*')) {
        return `'${pattern}' must start with an instance id (the core filters by prefix)`;
    }
    return null;
}

/**
 * Compile `pattern` into `{pattern, prefix, test(address)}`; throws on a bad pattern.
 * An exact address is its own prefix; a pattern's prefix is its literal head.
 */
function compile(pattern) {
    const why = problem(pattern);
    if (why) {
        throw new Error(why);
    }
    if (!pattern.includes('*')) {
        return {pattern, prefix: pattern, test: (address) => address === pattern};
    }
    const segments = pattern.split('.');
    const head = [];
    for (const segment of segments) {
        if (segment.includes('*')) {
            break;
        }
        head.push(segment);
    }
    // Every segment consumes its trailing dot; the address is tested with a dot appended.
    const body = segments.map((segment) => {
        if (segment === '**') {
            return '(?:[^.]+\\.)*';
        }
        if (segment === '*') {
            return '[^.]+\\.';
        }
        return escapeRegex(segment) + '\\.';
    }).join('');
    const regex = new RegExp('^' + body + '$');
    // `a.b.**` also matches `a.b` itself (`**` may be no segment): then no dot is wanted
    const dot = segments[head.length] === '**' ? '' : '.';
    return {pattern, prefix: head.join('.') + dot, test: (address) => regex.test(address + '.')};
}

module.exports = {compile, problem};
