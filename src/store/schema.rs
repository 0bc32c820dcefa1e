// Mirrors migrations/{postgres,sqlite}; the store tests check both backends migrate to it.

diesel::table! {
    domains (id) {
        id -> Text,
        name -> Text,
        description -> Text,
        enabled -> Bool,
        extra -> Text,
        created_at -> Timestamp,
        mfa_required -> Bool,
        login_by_email -> Bool,
    }
}

diesel::table! {
    projects (id) {
        id -> Text,
        name -> Text,
        domain_id -> Text,
        parent_id -> Nullable<Text>,
        description -> Text,
        enabled -> Bool,
        extra -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    project_tags (project_id, name) {
        project_id -> Text,
        name -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        name -> Text,
        domain_id -> Text,
        enabled -> Bool,
        default_project_id -> Nullable<Text>,
        email -> Nullable<Text>,
        description -> Nullable<Text>,
        extra -> Text,
        password_hash -> Nullable<Text>,
        password_created_at -> Nullable<Timestamp>,
        password_expires_at -> Nullable<Timestamp>,
        failed_auth_count -> Integer,
        failed_auth_at -> Nullable<Timestamp>,
        last_active_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        phone -> Nullable<Text>,
        password_self_service -> Bool,
        bound_project_id -> Nullable<Text>,
    }
}

diesel::table! {
    password_history (id) {
        id -> Text,
        user_id -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    user_options (user_id, name) {
        user_id -> Text,
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    groups (id) {
        id -> Text,
        name -> Text,
        domain_id -> Text,
        description -> Text,
        extra -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    user_group_memberships (user_id, group_id) {
        user_id -> Text,
        group_id -> Text,
    }
}

diesel::table! {
    roles (id) {
        id -> Text,
        name -> Text,
        domain_id -> Nullable<Text>,
        description -> Text,
        extra -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    implied_roles (prior_role_id, implied_role_id) {
        prior_role_id -> Text,
        implied_role_id -> Text,
    }
}

diesel::table! {
    role_assignments (actor_type, actor_id, target_type, target_id, role_id, inherited) {
        actor_type -> Text,
        actor_id -> Text,
        target_type -> Text,
        target_id -> Text,
        role_id -> Text,
        inherited -> Bool,
    }
}

diesel::table! {
    application_credentials (id) {
        id -> Text,
        name -> Text,
        secret_hash -> Text,
        description -> Nullable<Text>,
        user_id -> Text,
        project_id -> Text,
        expires_at -> Nullable<Timestamp>,
        unrestricted -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    application_credential_roles (application_credential_id, role_id) {
        application_credential_id -> Text,
        role_id -> Text,
    }
}

diesel::table! {
    access_rules (id) {
        id -> Text,
        user_id -> Text,
        service -> Text,
        path -> Text,
        method -> Text,
    }
}

diesel::table! {
    application_credential_access_rules (application_credential_id, access_rule_id) {
        application_credential_id -> Text,
        access_rule_id -> Text,
    }
}

diesel::table! {
    credentials (id) {
        id -> Text,
        user_id -> Text,
        project_id -> Nullable<Text>,
        #[sql_name = "type"]
        type_ -> Text,
        encrypted_blob -> Text,
        key_hash -> Text,
        extra -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    totp_steps (credential_id) {
        credential_id -> Text,
        last_step -> BigInt,
    }
}

diesel::table! {
    regions (id) {
        id -> Text,
        description -> Text,
        parent_region_id -> Nullable<Text>,
        extra -> Text,
    }
}

diesel::table! {
    services (id) {
        id -> Text,
        #[sql_name = "type"]
        type_ -> Text,
        name -> Text,
        description -> Text,
        enabled -> Bool,
        extra -> Text,
    }
}

diesel::table! {
    endpoints (id) {
        id -> Text,
        service_id -> Text,
        region_id -> Nullable<Text>,
        interface -> Text,
        url -> Text,
        enabled -> Bool,
        extra -> Text,
    }
}

diesel::table! {
    revocation_events (id) {
        id -> Text,
        user_id -> Nullable<Text>,
        project_id -> Nullable<Text>,
        domain_id -> Nullable<Text>,
        role_id -> Nullable<Text>,
        audit_id -> Nullable<Text>,
        audit_chain_id -> Nullable<Text>,
        application_credential_id -> Nullable<Text>,
        issued_before -> Timestamp,
        revoked_at -> Timestamp,
    }
}

diesel::joinable!(projects -> domains (domain_id));
diesel::joinable!(users -> domains (domain_id));
diesel::joinable!(groups -> domains (domain_id));
diesel::joinable!(project_tags -> projects (project_id));
diesel::joinable!(user_group_memberships -> users (user_id));
diesel::joinable!(user_group_memberships -> groups (group_id));
diesel::joinable!(role_assignments -> roles (role_id));
diesel::joinable!(application_credential_roles -> roles (role_id));
diesel::joinable!(application_credential_roles -> application_credentials (application_credential_id));
diesel::joinable!(endpoints -> services (service_id));
diesel::joinable!(endpoints -> regions (region_id));

diesel::table! {
    system_facts (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    invitations (id) {
        id -> Text,
        email -> Text,
        name -> Nullable<Text>,
        domain_id -> Text,
        user_id -> Nullable<Text>,
        inviter_id -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        accepted_at -> Nullable<Timestamp>,
        sent_to -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        delivery_error -> Nullable<Text>,
    }
}

diesel::table! {
    invitation_roles (invitation_id, role_id, target_type, target_id) {
        invitation_id -> Text,
        role_id -> Text,
        target_type -> Text,
        target_id -> Text,
    }
}

diesel::table! {
    account_links (id) {
        id -> Text,
        kind -> Text,
        secret_hash -> Text,
        user_id -> Nullable<Text>,
        invitation_id -> Nullable<Text>,
        sent_to -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        replaced_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(invitation_roles -> invitations (invitation_id));
diesel::joinable!(invitation_roles -> roles (role_id));
diesel::joinable!(account_links -> invitations (invitation_id));
diesel::joinable!(account_links -> users (user_id));
diesel::joinable!(invitations -> domains (domain_id));

diesel::allow_tables_to_appear_in_same_query!(
    domains,
    projects,
    project_tags,
    users,
    password_history,
    user_options,
    groups,
    user_group_memberships,
    roles,
    implied_roles,
    role_assignments,
    application_credentials,
    application_credential_roles,
    access_rules,
    application_credential_access_rules,
    credentials,
    totp_steps,
    regions,
    services,
    endpoints,
    revocation_events,
    system_facts,
    invitations,
    invitation_roles,
    account_links,
);
