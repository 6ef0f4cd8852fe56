//! The login throttle's Redis side: each step is one Lua script, so that
//! concurrent attempts on every instance see one consistent count.

/// Starts an attempt, atomically. KEYS: account failures, account in
/// flight, address failures, address in flight. ARGV: the two limits and
/// the in-flight TTL (ms). Returns {0} to go ahead, {1, ms} when a window
/// is over its limit, {2} when too many attempts are already in flight.
pub(super) static BEGIN: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
        for i = 0, 1 do
            local failures = tonumber(redis.call('GET', KEYS[1 + 2 * i]) or '0')
            if failures >= tonumber(ARGV[1 + i]) then
                return {1, redis.call('PTTL', KEYS[1 + 2 * i])}
            end
        end
        local over = false
        for i = 0, 1 do
            local failures = tonumber(redis.call('GET', KEYS[1 + 2 * i]) or '0')
            local in_flight = redis.call('INCR', KEYS[2 + 2 * i])
            redis.call('PEXPIRE', KEYS[2 + 2 * i], ARGV[3])
            if failures + in_flight > tonumber(ARGV[1 + i]) then over = true end
        end
        if over then
            for i = 0, 1 do redis.call('DECR', KEYS[2 + 2 * i]) end
            return {2}
        end
        return {0}
        ",
    )
});

/// Settles an attempt. KEYS as for BEGIN; ARGV[1] is 1 for a failure (count
/// it in both windows, opening them if needed) or 0 for a success (forget
/// the account's failures); ARGV[2] is the window in seconds.
pub(super) static SETTLE: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
        for i = 0, 1 do
            local key = KEYS[2 + 2 * i]
            if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
        end
        if ARGV[1] == '1' then
            for i = 0, 1 do
                redis.call('SET', KEYS[1 + 2 * i], 0, 'EX', ARGV[2], 'NX')
                redis.call('INCR', KEYS[1 + 2 * i])
            end
        else
            redis.call('DEL', KEYS[1])
        end
        return 0
        ",
    )
});

/// Takes one in-flight mark back, never below zero.
pub(super) static RELEASE: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
        if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then return redis.call('DECR', KEYS[1]) end
        return 0
        ",
    )
});
