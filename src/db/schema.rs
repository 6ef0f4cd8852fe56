// The tables of migrations/{sqlite,postgres}: the same columns and SQL types
// on both backends, so one set of queries serves both.

diesel::table! {
    users (id) {
        id -> Integer,
        email -> Text,
        email_canonical -> Text,
        username -> Text,
        first_name -> Text,
        last_name -> Text,
        password -> Text,
        is_active -> Bool,
        is_staff -> Bool,
        is_superuser -> Bool,
        date_joined -> Timestamp,
        last_login -> Nullable<Timestamp>,
        email_verified -> Bool,
        session_generation -> Integer,
    }
}

diesel::table! {
    profiles (user_id) {
        user_id -> Integer,
        portfolio_site -> Text,
        bio -> Text,
        profile_pic -> Nullable<Text>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Nullable<Integer>,
        state -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    login_failures (scope_key) {
        scope_key -> Text,
        failures -> Integer,
        window_ends_at -> Timestamp,
    }
}

diesel::table! {
    email_tokens (id) {
        id -> Integer,
        token_hash -> Text,
        user_id -> Integer,
        purpose -> Text,
        email -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        email_canonical -> Text,
    }
}

diesel::table! {
    email_rekey_pending (user_id) {
        user_id -> Integer,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        kind -> Text,
        message_id -> Text,
        recipient -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        failed_at -> Nullable<Timestamp>,
        user_id -> Nullable<Integer>,
    }
}

diesel::table! {
    password_reset_requests (id) {
        id -> BigInt,
        email_canonical -> Text,
        requested_at -> Timestamp,
    }
}

diesel::joinable!(profiles -> users (user_id));
diesel::joinable!(email_tokens -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, profiles, sessions, email_tokens);

diesel::table! {
    django_imports (source, django_id) {
        source -> Text,
        django_id -> BigInt,
        user_id -> Nullable<Integer>,
        imported_at -> Timestamp,
    }
}

diesel::table! {
    totp_devices (user_id) {
        user_id -> Integer,
        secret_sealed -> Text,
        confirmed_at -> Nullable<Timestamp>,
        last_step -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> Integer,
        user_id -> Integer,
        code_hash -> Text,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    mfa_logins (id) {
        id -> Text,
        user_id -> Integer,
        state -> Text,
        failures -> Integer,
        expires_at -> Timestamp,
    }
}
