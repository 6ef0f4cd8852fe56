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
    }
}

diesel::table! {
    login_failures (scope_key) {
        scope_key -> Text,
        failures -> Integer,
        window_ends_at -> Timestamp,
    }
}

diesel::joinable!(profiles -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, profiles, sessions);
